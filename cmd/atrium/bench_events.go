package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"atrium"
	"atrium/notify"
	"atrium/secret"
	"atrium/sqlstore"
)

// eventsBench is the result of 'atrium bench events'.
type eventsBench struct {
	Rate      int     `json:"rate"`
	Seconds   float64 `json:"seconds"`
	Jobs      int     `json:"jobs"`
	Durable   bool    `json:"durable"` // SQLite synchronous=FULL, as the server runs
	Committed int     `json:"committed"`
	Received  int     `json:"received"`
	// CommitRate is the rate actually committed.
	CommitRate float64 `json:"commitRate"`
	// Commit → received latency percentiles, milliseconds.
	P50Millis  float64 `json:"p50Millis"`
	P90Millis  float64 `json:"p90Millis"`
	P99Millis  float64 `json:"p99Millis"`
	MaxMillis  float64 `json:"maxMillis"`
	P99Target  float64 `json:"p99TargetMillis"`
	MeetsP99   bool    `json:"meetsTarget"`
	Duplicates int     `json:"duplicates"`
	GoVersion  string  `json:"goVersion"`
	CPUs       int     `json:"cpus"`
}

func newBenchEventsCmd() *cobra.Command {
	var rate, jobs, workers int
	var seconds time.Duration
	var output string
	var noSync bool
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Measure event committed → webhook received latency at a steady rate",
		Long: `Starts a SQLite store in a temporary directory, the alert delivery engine
(matcher and workers), a rule on dlc.job.status.changed with a signed
webhook target, and a webhook receiver on loopback; then commits job status
changes (each writes its outbox event in the same transaction) at --rate
per second for --duration, and reports the percentiles of the time from a
change's commit to its webhook's arrival. The target is p99 ≤ 100 ms at
1,000 events/s.`,
		Example: "  atrium bench events --rate 1000 --duration 10s -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "table" && output != "json" {
				return fmt.Errorf("--output must be table or json")
			}
			res, err := benchEvents(cmd.Context(), rate, seconds, jobs, workers, !noSync)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if output == "json" {
				b, _ := json.MarshalIndent(res, "", "  ")
				_, err := fmt.Fprintf(out, "%s\n", b)
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "load\t%d events/s for %.0f s over %d jobs (committed %.0f/s, durable %v)\n", res.Rate, res.Seconds, res.Jobs, res.CommitRate, res.Durable)
			fmt.Fprintf(tw, "received\t%d of %d (%d duplicates)\n", res.Received, res.Committed, res.Duplicates)
			fmt.Fprintf(tw, "commit → received\tp50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n", res.P50Millis, res.P90Millis, res.P99Millis, res.MaxMillis)
			fmt.Fprintf(tw, "target p99 ≤ %.0f ms\t%v\n", res.P99Target, res.MeetsP99)
			fmt.Fprintf(tw, "runtime\t%s, %d CPUs\n", res.GoVersion, res.CPUs)
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.IntVar(&rate, "rate", 1000, "events committed per second")
	f.DurationVar(&seconds, "duration", 10*time.Second, "how long to commit events")
	f.IntVar(&jobs, "jobs", 200, "jobs whose status changes make the events")
	f.IntVar(&workers, "workers", 4, "delivery workers")
	f.BoolVar(&noSync, "no-sync", false, "SQLite without fsync at commit (the server always syncs)")
	f.StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func benchEvents(ctx context.Context, rate int, dur time.Duration, jobs, workers int, durable bool) (eventsBench, error) {
	res := eventsBench{Rate: rate, Seconds: dur.Seconds(), Jobs: jobs, Durable: durable, P99Target: 100,
		GoVersion: runtime.Version(), CPUs: runtime.NumCPU()}
	if rate < 1 || dur <= 0 || jobs < 1 {
		return res, fmt.Errorf("--rate, --duration and --jobs must be positive")
	}
	dir, err := os.MkdirTemp("", "atrium-bench-events-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	var opts []sqlstore.Option
	if !durable {
		opts = append(opts, sqlstore.WithoutSync())
	}
	db, err := sqlstore.Open(ctx, filepath.Join(dir, "atrium.db"), opts...)
	if err != nil {
		return res, err
	}
	defer db.Close()

	// The receiver records when each change (named by its reason message)
	// arrives, verifying the signature.
	key := []byte("bench-secret")
	var mu sync.Mutex
	received := map[int]time.Time{}
	dups := 0
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		body, _ := io.ReadAll(r.Body)
		if !notify.VerifySignature(key, r.Header.Get("X-Atrium-Timestamp"), body, r.Header.Get("X-Atrium-Signature")) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var ev struct {
			Data struct {
				ReasonMessage string `json:"reasonMessage"`
			} `json:"data"`
		}
		_ = json.Unmarshal(body, &ev)
		if n, err := strconv.Atoi(strings.TrimPrefix(ev.Data.ReasonMessage, "bench-")); err == nil {
			mu.Lock()
			if _, ok := received[n]; ok {
				dups++
			} else {
				received[n] = at
			}
			mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	})}
	go srv.Serve(ln)
	defer srv.Close()

	u := &atrium.User{Name: "bench", DisplayName: "Bench"}
	if err := db.CreateUser(ctx, u); err != nil {
		return res, err
	}
	ws := &atrium.Workspace{Name: "bench", DisplayName: "Bench", Creator: u.ID}
	if err := db.CreateWorkspace(ctx, ws); err != nil {
		return res, err
	}
	box, err := secret.NewBox(make([]byte, secret.KeySize))
	if err != nil {
		return res, err
	}
	rule := &atrium.AlertRule{ID: atrium.NewID(atrium.PrefixRule), WorkspaceID: ws.ID, Name: "bench", Owner: u.ID,
		EventTypes: []string{atrium.EventJobStatusChanged}, Scope: atrium.ScopeAll, Enabled: true}
	rule.Targets = []atrium.AlertTarget{{Type: atrium.TargetWebhook, URL: "http://" + ln.Addr().String() + "/hook",
		Secret: box.Seal(key, []byte(rule.ID+":0")), HasSecret: true}}
	if err := db.CreateAlertRule(ctx, rule); err != nil {
		return res, err
	}
	js := make([]*atrium.Job, jobs)
	for i := range js {
		j := &atrium.Job{WorkspaceID: ws.ID, Kind: atrium.KindDLC, DisplayName: fmt.Sprintf("bench-%d", i), JobType: "PyTorchJob",
			Creator: u.ID, Accessibility: atrium.AccessPrivate, Status: atrium.JobQueuing, ReasonCode: atrium.ReasonSubmitted,
			Spec: atrium.JobSpec{DisplayName: "bench", JobType: "PyTorchJob", Command: "true"}}
		if err := db.CreateJob(ctx, j); err != nil {
			return res, err
		}
		js[i] = j
	}

	cfg, err := notifyConfig{allowCIDRs: []string{"127.0.0.0/8"}}.engineConfig()
	if err != nil {
		return res, err
	}
	cfg.Store, cfg.Box, cfg.Workers = db, box, workers
	eng, err := notify.New(cfg)
	if err != nil {
		return res, err
	}
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The jobs' creation events go first; measure from a quiet queue.
	eng.Start(ectx)
	defer eng.Stop()
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := db.MatchCursor(ctx)
		if err != nil {
			return res, err
		}
		if seq, err := db.LastEventSeq(ctx); err == nil && c >= seq {
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("the engine did not catch up with the setup events")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)

	// Commit status changes at the rate: change n flips job n%jobs.
	total := int(float64(rate) * dur.Seconds())
	committed := make([]time.Time, total)
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	for n := range total {
		if d := time.Until(start.Add(time.Duration(n) * interval)); d > 0 {
			time.Sleep(d)
		}
		j := js[n%jobs]
		st := atrium.JobRunning
		if j.Status == atrium.JobRunning {
			st = atrium.JobQueuing
		}
		msg := "bench-" + strconv.Itoa(n)
		got, err := db.UpdateJob(ctx, j.ID, j.Version, atrium.JobUpdate{Status: &st, ReasonMessage: &msg})
		if err != nil {
			return res, fmt.Errorf("commit event %d: %w", n, err)
		}
		committed[n] = time.Now()
		js[n%jobs] = got
	}
	elapsed := time.Since(start)
	res.Committed, res.CommitRate = total, float64(total)/elapsed.Seconds()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		n := len(received)
		mu.Unlock()
		if n >= total {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	lat := make([]float64, 0, len(received))
	for n, at := range received {
		if n < total {
			lat = append(lat, millis(max(at.Sub(committed[n]), 0)))
		}
	}
	res.Received, res.Duplicates = len(lat), dups
	if len(lat) == 0 {
		return res, fmt.Errorf("no event was received")
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	res.P50Millis, res.P90Millis, res.P99Millis, res.MaxMillis = pct(0.50), pct(0.90), pct(0.99), lat[len(lat)-1]
	res.MeetsP99 = res.P99Millis <= res.P99Target && res.Received == total
	return res, nil
}
