package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// apiBench is the result of 'atrium bench api'.
type apiBench struct {
	Engine  string  `json:"engine"`
	Rate    int     `json:"rate"` // target requests per second; 0 as fast as the clients go
	Clients int     `json:"clients"`
	Seconds float64 `json:"seconds"`

	Requests   int     `json:"requests"`
	Errors     int     `json:"errors"`
	Throughput float64 `json:"throughput"` // requests per second achieved
	// Over all read requests, milliseconds from the request's scheduled
	// start (so a server that falls behind the rate is charged the wait).
	ReadP50Millis   float64          `json:"readP50Millis"`
	ReadP99Millis   float64          `json:"readP99Millis"`
	ReadP99Target   float64          `json:"readP99TargetMillis"`
	MeetsReadTarget bool             `json:"meetsReadTarget"`
	Endpoints       []endpointResult `json:"endpoints"`
	GoVersion       string           `json:"goVersion"`
	CPUs            int              `json:"cpus"`
}

type endpointResult struct {
	Name      string  `json:"name"`
	Requests  int     `json:"requests"`
	Errors    int     `json:"errors"`
	PerSecond float64 `json:"perSecond"`
	P50Millis float64 `json:"p50Millis"`
	P99Millis float64 `json:"p99Millis"`
	MaxMillis float64 `json:"maxMillis"`
}

func newBenchAPICmd() *cobra.Command {
	var rate, clients int
	var dur time.Duration
	var databaseURL, output, cpuProfile string
	var submitShare float64
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Drive the REST API with concurrent clients; report throughput and p50/p99 per endpoint",
		Long: `Starts 'atrium serve' inside this process on a temporary SQLite database (or
--database-url postgres://…, best a scratch database: the run adds a user,
a workspace and its jobs), seeds a workspace with jobs, then sends requests
at --rate per second for --duration from --clients concurrent clients:
GET a job, GET the job list (20 a page), GET the workspace, and — a
--submit-share of them — POST a trivial job (which the local executor then
runs). Latency is measured from each request's scheduled start, so a server
that falls behind the rate is charged the wait. Clients and server share
this machine's CPUs. The target is read p99 ≤ 10 ms at 2,000 req/s on SQLite.`,
		Example: "  atrium bench api --rate 2000 --duration 10s --clients 32 -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "table" && output != "json" {
				return fmt.Errorf("--output must be table or json")
			}
			if cpuProfile != "" { // server and clients: they share this process
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			res, err := benchAPI(cmd.Context(), databaseURL, rate, clients, dur, submitShare)
			if err != nil {
				return err
			}
			return printAPIBench(cmd.OutOrStdout(), res, output)
		},
	}
	f := cmd.Flags()
	f.IntVar(&rate, "rate", 2000, "requests per second to send (0: as fast as the clients go)")
	f.DurationVar(&dur, "duration", 10*time.Second, "how long to send requests")
	f.IntVar(&clients, "clients", 32, "concurrent clients")
	f.Float64Var(&submitShare, "submit-share", 0.05, "share of requests that submit a job")
	f.StringVar(&databaseURL, "database-url", "", "postgres://… to run the server on PostgreSQL instead of SQLite")
	f.StringVarP(&output, "output", "o", "table", "output format: table or json")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run (server and clients) to this file")
	return cmd
}

func printAPIBench(out io.Writer, res apiBench, output string) error {
	return printBench(out, output, res, func(out io.Writer) error {
		fmt.Fprintf(out, "%s, %d req/s target, %d clients, %.0f s, %d CPUs\n", res.Engine, res.Rate, res.Clients, res.Seconds, res.CPUs)
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "endpoint\trequests\terrors\treq/s\tp50 ms\tp99 ms\tmax ms\t\n")
		for _, e := range res.Endpoints {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%.2f\t%.2f\t%.1f\t\n", e.Name, e.Requests, e.Errors, e.PerSecond, e.P50Millis, e.P99Millis, e.MaxMillis)
		}
		fmt.Fprintf(tw, "all\t%d\t%d\t%.0f\t\t\t\t\n", res.Requests, res.Errors, res.Throughput)
		fmt.Fprintf(tw, "reads\t\t\t\t%.2f\t%.2f\t\t\n", res.ReadP50Millis, res.ReadP99Millis)
		if err := tw.Flush(); err != nil {
			return err
		}
		_, err := fmt.Fprintf(out, "target: read p99 ≤ %.0f ms at the rate, no errors: %v\n", res.ReadP99Target, res.MeetsReadTarget)
		return err
	})
}

// printBench writes res as one JSON line (-o json), or what table writes
// followed by that JSON line, for scripts reading the last line.
func printBench(out io.Writer, output string, res any, table func(io.Writer) error) error {
	line, err := json.Marshal(res)
	if err != nil {
		return err
	}
	if output != "json" {
		if err := table(out); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintf(out, "%s\n", line)
	return err
}

// apiCall is one kind of request of the mix.
type apiCall struct {
	name   string
	method string
	path   func(i int) string
	body   string
	read   bool
}

func benchAPI(ctx context.Context, databaseURL string, rate, clients int, dur time.Duration, submitShare float64) (apiBench, error) {
	res := apiBench{Engine: "sqlite", Rate: rate, Clients: clients, Seconds: dur.Seconds(), ReadP99Target: 10,
		GoVersion: runtime.Version(), CPUs: runtime.NumCPU()}
	if databaseURL != "" {
		res.Engine = "postgres"
	}
	if rate < 0 || clients < 1 || dur <= 0 || submitShare < 0 || submitShare > 1 {
		return res, fmt.Errorf("--rate must not be negative; --clients and --duration must be positive; --submit-share is 0–1")
	}
	s, err := startBenchServer(ctx, databaseURL, clients, "--runtime", runtimeProcess)
	if err != nil {
		return res, err
	}
	defer s.Stop()
	ws, err := s.workspace(ctx)
	if err != nil {
		return res, err
	}
	wsPath := "/api/v1/workspaces/" + ws
	var ids []string
	for range 50 {
		j, err := s.Client.SubmitJob(ctx, ws, trivialJob("busybox"))
		if err != nil {
			return res, fmt.Errorf("seed jobs: %w", err)
		}
		ids = append(ids, j.ID)
	}
	calls := []apiCall{
		{name: "GET /workspaces/{id}/jobs/{id}", method: "GET", read: true, path: func(i int) string { return wsPath + "/jobs/" + ids[i%len(ids)] }},
		{name: "GET /workspaces/{id}/jobs", method: "GET", read: true, path: func(int) string { return wsPath + "/jobs?pageSize=20" }},
		{name: "GET /workspaces/{id}", method: "GET", read: true, path: func(int) string { return wsPath }},
		{name: "POST /workspaces/{id}/jobs", method: "POST", body: string(trivialJob("busybox")), path: func(int) string { return wsPath + "/jobs" }},
	}
	// pick spreads the mix evenly: every 1/submitShare-th request submits.
	pick := func(i int) int {
		if submitShare > 0 && int(float64(i+1)*submitShare) != int(float64(i)*submitShare) {
			return 3
		}
		return i % 3
	}

	type sample struct {
		call int
		lat  time.Duration
		ok   bool
	}
	hc := s.Client.HTTP
	do := func(i int) (int, bool) {
		c := calls[pick(i)]
		var body io.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
		}
		req, _ := http.NewRequestWithContext(ctx, c.method, s.URL+c.path(i), body)
		req.Header.Set("Authorization", "Bearer "+s.Token)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := hc.Do(req)
		if err != nil {
			return pick(i), false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return pick(i), resp.StatusCode < 300
	}

	// Open loop: a ticker schedules request i at start + i/rate; clients
	// take them in order and measure from the scheduled time.
	type job struct {
		i  int
		at time.Time
	}
	// Closed loop (rate 0): unbuffered, so a request is made only when a
	// client is free and its latency is the service time.
	queue := make(chan job)
	if rate > 0 {
		queue = make(chan job, 1<<16)
	}
	samples := make([][]sample, clients)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range queue {
				k, ok := do(j.i)
				samples[c] = append(samples[c], sample{k, time.Since(j.at), ok})
			}
		}()
	}
	start := time.Now()
	end := start.Add(dur)
	for i := 0; ; i++ {
		at := time.Now()
		if rate > 0 {
			at = start.Add(time.Duration(float64(i) * float64(time.Second) / float64(rate)))
			if d := time.Until(at); d > 0 {
				time.Sleep(d)
			}
		}
		if !at.Before(end) || ctx.Err() != nil {
			break
		}
		if rate > 0 {
			queue <- job{i, at}
		} else {
			select { // closed loop: only as fast as a client is free
			case queue <- job{i, at}:
			case <-ctx.Done():
			}
		}
	}
	close(queue)
	wg.Wait()
	elapsed := time.Since(start).Seconds()

	per := make([][]float64, len(calls))
	errs := make([]int, len(calls))
	var reads []float64
	for _, ss := range samples {
		for _, x := range ss {
			res.Requests++
			ms := millis(x.lat)
			per[x.call] = append(per[x.call], ms)
			if !x.ok {
				res.Errors++
				errs[x.call]++
			}
			if calls[x.call].read {
				reads = append(reads, ms)
			}
		}
	}
	res.Throughput = float64(res.Requests) / elapsed
	for k, c := range calls {
		lat := per[k]
		if len(lat) == 0 {
			continue
		}
		slices.Sort(lat)
		res.Endpoints = append(res.Endpoints, endpointResult{Name: c.name, Requests: len(lat), Errors: errs[k],
			PerSecond: float64(len(lat)) / elapsed, P50Millis: pct(lat, 0.50), P99Millis: pct(lat, 0.99), MaxMillis: lat[len(lat)-1]})
	}
	if res.Requests == 0 {
		return res, fmt.Errorf("no request completed")
	}
	if len(reads) == 0 { // --submit-share 1
		return res, nil
	}
	slices.Sort(reads)
	res.ReadP50Millis, res.ReadP99Millis = pct(reads, 0.50), pct(reads, 0.99)
	res.MeetsReadTarget = res.ReadP99Millis <= res.ReadP99Target && res.Errors == 0 &&
		(rate == 0 || res.Throughput >= 0.95*float64(rate))
	return res, nil
}

// pct is the p-quantile of sorted values.
func pct(sorted []float64, p float64) float64 {
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}
