package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"atrium/scheduler"
)

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run reproducible in-process benchmarks",
		Long: `Benchmarks run inside this process on synthetic input. scheduler and events
need no server; api and vs-slurm start 'atrium serve' inside this process on
a temporary data directory (vs-slurm also needs a running Slurm).`,
	}
	cmd.AddCommand(newBenchSchedulerCmd(), newBenchEventsCmd(), newBenchVsSlurmCmd(), newBenchAPICmd(), newBenchPodsCmd())
	return cmd
}

// schedulerBench is the result of 'atrium bench scheduler'.
type schedulerBench struct {
	Nodes  int   `json:"nodes"`
	Quotas int   `json:"quotas"`
	Jobs   int   `json:"jobs"`
	Seed   int64 `json:"seed"`

	Admitted          int     `json:"admitted"`
	Preempted         int     `json:"preempted"`
	AdmittedPerSecond float64 `json:"admittedPerSecond"`
	FullPassMillis    float64 `json:"fullPassMillis"`
	PeakMemoryBytes   uint64  `json:"peakMemoryBytes"`

	BuildMillis               float64 `json:"buildMillis"`
	Passes                    int     `json:"passes"`
	FixedPointMillis          float64 `json:"fixedPointMillis"`
	SaturatedPassMillis       float64 `json:"saturatedPassMillis"`
	Queued                    int     `json:"queuedAtFixedPoint"`
	IncrementalEvents         int     `json:"incrementalEvents"`
	IncrementalMicrosPerEvent float64 `json:"incrementalMicrosPerEvent"`
	GoVersion                 string  `json:"goVersion"`
	CPUs                      int     `json:"cpus"`
}

func newBenchSchedulerCmd() *cobra.Command {
	var cfg scheduler.SynthConfig
	var output string
	var events int
	cmd := &cobra.Command{
		Use:   "scheduler",
		Short: "Schedule a synthetic cluster to a fixed point and report throughput",
		Long: `Builds a synthetic cluster (scheduler.Synth: A100, H100, T4 and CPU-only
nodes; a 3-level quota tree with borrowing, lending limits, all queueing
strategies and in-quota preemption; queued jobs with gang sizes 1–16 and
priorities 1–9), then:

  1. builds the scheduler state from the snapshot (buildMillis),
  2. runs one full pass over the whole queue (fullPassMillis),
  3. runs passes until one admits nothing (the fixed point),
  4. runs one more full pass over the remaining queue (saturatedPassMillis),
  5. replays --events steady-state events — one running job finishes, one
     job is submitted, Refresh — and reports the time per event.

admittedPerSecond is admissions divided by the time of steps 1–3. The same
seed gives the same cluster and the same decisions.`,
		Example: "  atrium bench scheduler --nodes 10000 --quotas 1000 --jobs 100000 --seed 1 -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "table" && output != "json" {
				return fmt.Errorf("--output must be table or json")
			}
			res, err := benchScheduler(cfg, events)
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
			fmt.Fprintf(tw, "cluster\t%d nodes, %d quotas, %d queued jobs, seed %d\n", res.Nodes, res.Quotas, res.Jobs, res.Seed)
			fmt.Fprintf(tw, "admitted\t%d in %d passes (%d left queued)\n", res.Admitted, res.Passes, res.Queued)
			fmt.Fprintf(tw, "admissions per second\t%.0f\n", res.AdmittedPerSecond)
			fmt.Fprintf(tw, "build state\t%.1f ms\n", res.BuildMillis)
			fmt.Fprintf(tw, "first full pass\t%.1f ms\n", res.FullPassMillis)
			fmt.Fprintf(tw, "to fixed point\t%.1f ms\n", res.FixedPointMillis)
			fmt.Fprintf(tw, "saturated full pass\t%.1f ms\n", res.SaturatedPassMillis)
			fmt.Fprintf(tw, "incremental event\t%.0f µs (finish + submit + Refresh, %d events)\n", res.IncrementalMicrosPerEvent, res.IncrementalEvents)
			fmt.Fprintf(tw, "peak memory\t%.0f MiB\n", float64(res.PeakMemoryBytes)/(1<<20))
			fmt.Fprintf(tw, "runtime\t%s, %d CPUs\n", res.GoVersion, res.CPUs)
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Nodes, "nodes", 10000, "nodes in the synthetic cluster")
	f.IntVar(&cfg.Quotas, "quotas", 1000, "quotas in the 3-level quota tree")
	f.IntVar(&cfg.Jobs, "jobs", 100000, "queued jobs")
	f.Int64Var(&cfg.Seed, "seed", 1, "random seed of the synthetic cluster")
	f.IntVar(&events, "events", 1000, "steady-state events to replay after the fixed point")
	f.StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func benchScheduler(cfg scheduler.SynthConfig, events int) (schedulerBench, error) {
	if cfg.Nodes < 1 || cfg.Quotas < 1 || cfg.Jobs < 1 {
		return schedulerBench{}, fmt.Errorf("--nodes, --quotas and --jobs must be positive")
	}
	res := schedulerBench{Nodes: cfg.Nodes, Quotas: cfg.Quotas, Jobs: cfg.Jobs, Seed: cfg.Seed,
		GoVersion: runtime.Version(), CPUs: runtime.NumCPU()}
	snap := scheduler.Synth(cfg)
	runtime.GC()

	start := time.Now()
	s, err := scheduler.New(snap)
	if err != nil {
		return res, err
	}
	res.BuildMillis = millis(time.Since(start))
	var running []string
	for {
		passStart := time.Now()
		d := s.Pass(snap.Now)
		if res.Passes == 0 {
			res.FullPassMillis = millis(time.Since(passStart))
		}
		res.Passes++
		res.Admitted += len(d.Admitted)
		res.Preempted += len(d.Preempted)
		for _, a := range d.Admitted {
			running = append(running, a.Workload)
		}
		res.Queued = len(d.Queued)
		if len(d.Admitted) == 0 || res.Passes > 100 {
			break
		}
	}
	elapsed := time.Since(start)
	res.FixedPointMillis = millis(elapsed)
	res.AdmittedPerSecond = float64(res.Admitted) / elapsed.Seconds()

	passStart := time.Now()
	s.Pass(snap.Now)
	res.SaturatedPassMillis = millis(time.Since(passStart))

	// Steady state: finish one running job, submit one, Refresh.
	extra := scheduler.Synth(scheduler.SynthConfig{Nodes: 0, Quotas: cfg.Quotas, Jobs: events, Seed: cfg.Seed + 1})
	evStart := time.Now()
	for i := 0; i < events && len(running) > 0; i++ {
		k := (i * 7919) % len(running)
		s.Remove(running[k])
		running[k] = running[len(running)-1]
		running = running[:len(running)-1]
		w := extra.Queued[i]
		w.ID = "inc-" + w.ID
		if err := s.Submit(w); err != nil {
			return res, err
		}
		for _, a := range s.Refresh(snap.Now).Admitted {
			running = append(running, a.Workload)
		}
		res.IncrementalEvents++
	}
	if res.IncrementalEvents > 0 {
		res.IncrementalMicrosPerEvent = float64(time.Since(evStart).Microseconds()) / float64(res.IncrementalEvents)
	}
	res.PeakMemoryBytes = peakMemory()
	return res, nil
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// peakMemory is the process's peak resident set (VmHWM) where Linux reports
// it, else the memory the Go runtime obtained from the OS.
func peakMemory() uint64 {
	if f, err := os.Open("/proc/self/status"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
				kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
				if err == nil {
					return kb << 10
				}
			}
		}
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Sys
}
