package main

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"atrium"
	"atrium/httpapi"
)

// vsSlurmBench is the result of 'atrium bench vs-slurm'.
type vsSlurmBench struct {
	Jobs        int    `json:"jobs"`
	Concurrency int    `json:"concurrency"`
	Partition   string `json:"partition"`
	// CPUs is the Slurm partition's CPU count, given to Atrium's local
	// executor too, so both run as many 1-CPU jobs at once.
	CPUs int `json:"cpus"`

	AtriumSubmitPerSecond float64 `json:"atriumSubmitPerSecond"`
	SlurmSubmitPerSecond  float64 `json:"slurmSubmitPerSecond"`
	SubmitRatio           float64 `json:"submitRatio"`
	AtriumMakespanSeconds float64 `json:"atriumMakespanSeconds"`
	SlurmMakespanSeconds  float64 `json:"slurmMakespanSeconds"`
	MakespanRatio         float64 `json:"makespanRatio"`

	SubmitRatioTarget   float64 `json:"submitRatioTarget"`
	MakespanRatioTarget float64 `json:"makespanRatioTarget"`
	MeetsTargets        bool    `json:"meetsTargets"`
	SlurmVersion        string  `json:"slurmVersion"`
	GoVersion           string  `json:"goVersion"`
}

func newBenchVsSlurmCmd() *cobra.Command {
	var jobs, conc int
	var partition, output string
	cmd := &cobra.Command{
		Use:   "vs-slurm",
		Short: "Submit and run N trivial jobs through Atrium and through sbatch; compare",
		Long: `Needs a running Slurm (scripts/slurm-up.sh starts a one-node cluster with
partition atrium) and sbatch, squeue and sinfo on PATH.

Atrium: starts 'atrium serve' inside this process on a temporary SQLite
database with the local executor offering as many CPUs as the Slurm
partition has; submits --jobs CustomJobs (command true, 1 CPU, 16Mi) through
the REST API from --concurrency clients; waits until all have finished.
Slurm: the same jobs with 'sbatch -c 1 --mem=16M --wrap true' from
--concurrency parallel sbatch processes; waits until squeue shows all
COMPLETED.

Submissions per second count the submit phase alone; the makespan runs
from the first submission to the moment all jobs are seen finished (both
polled every 50 ms). Ratios are Atrium ÷ Slurm. Targets: submitRatio ≥ 10,
makespanRatio ≤ 0.5.`,
		Example: "  atrium bench vs-slurm --jobs 200 --concurrency 8 -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "table" && output != "json" {
				return fmt.Errorf("--output must be table or json")
			}
			res, err := benchVsSlurm(cmd.Context(), jobs, conc, partition)
			if err != nil {
				return err
			}
			return printVsSlurm(cmd.OutOrStdout(), res, output)
		},
	}
	f := cmd.Flags()
	f.IntVar(&jobs, "jobs", 200, "trivial jobs to submit and run on each side")
	f.IntVar(&conc, "concurrency", 8, "parallel submitters on each side")
	f.StringVar(&partition, "partition", "atrium", "Slurm partition to submit to")
	f.StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func printVsSlurm(out io.Writer, res vsSlurmBench, output string) error {
	return printBench(out, output, res, func(out io.Writer) error {
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "%d jobs, %d submitters, %d CPUs\tAtrium\tSlurm %s\tAtrium ÷ Slurm\ttarget\n", res.Jobs, res.Concurrency, res.CPUs, res.SlurmVersion)
		fmt.Fprintf(tw, "submissions per second\t%.1f\t%.1f\t%.2f\t≥ %.0f\n", res.AtriumSubmitPerSecond, res.SlurmSubmitPerSecond, res.SubmitRatio, res.SubmitRatioTarget)
		fmt.Fprintf(tw, "time to all finished (s)\t%.2f\t%.2f\t%.2f\t≤ %.1f\n", res.AtriumMakespanSeconds, res.SlurmMakespanSeconds, res.MakespanRatio, res.MakespanRatioTarget)
		return tw.Flush()
	})
}

func benchVsSlurm(ctx context.Context, jobs, conc int, partition string) (vsSlurmBench, error) {
	res := vsSlurmBench{Jobs: jobs, Concurrency: conc, Partition: partition, SubmitRatioTarget: 10, MakespanRatioTarget: 0.5,
		GoVersion: runtime.Version()}
	if jobs < 1 || conc < 1 {
		return res, fmt.Errorf("--jobs and --concurrency must be positive")
	}
	cpus, version, err := slurmPartition(ctx, partition)
	if err != nil {
		return res, err
	}
	res.CPUs, res.SlurmVersion = cpus, version

	submit, makespan, err := atriumTrivialJobs(ctx, jobs, conc, cpus)
	if err != nil {
		return res, fmt.Errorf("atrium: %w", err)
	}
	res.AtriumSubmitPerSecond, res.AtriumMakespanSeconds = float64(jobs)/submit.Seconds(), makespan.Seconds()
	submit, makespan, err = slurmTrivialJobs(ctx, jobs, conc, partition)
	if err != nil {
		return res, fmt.Errorf("slurm: %w", err)
	}
	res.SlurmSubmitPerSecond, res.SlurmMakespanSeconds = float64(jobs)/submit.Seconds(), makespan.Seconds()
	res.SubmitRatio = res.AtriumSubmitPerSecond / res.SlurmSubmitPerSecond
	res.MakespanRatio = res.AtriumMakespanSeconds / res.SlurmMakespanSeconds
	res.MeetsTargets = res.SubmitRatio >= res.SubmitRatioTarget && res.MakespanRatio <= res.MakespanRatioTarget
	return res, nil
}

// slurmPartition returns the partition's total CPUs and Slurm's version.
func slurmPartition(ctx context.Context, partition string) (int, string, error) {
	out, err := exec.CommandContext(ctx, "sinfo", "-h", "-p", partition, "-o", "%C").Output()
	if err != nil {
		return 0, "", fmt.Errorf("sinfo: %w (is Slurm running? scripts/slurm-up.sh starts it)", err)
	}
	f := strings.Split(strings.TrimSpace(string(out)), "/") // allocated/idle/other/total
	total, err := strconv.Atoi(f[len(f)-1])
	if err != nil || total < 1 {
		return 0, "", fmt.Errorf("partition %q has no CPUs (sinfo says %q)", partition, strings.TrimSpace(string(out)))
	}
	v, _ := exec.CommandContext(ctx, "sinfo", "--version").Output()
	return total, strings.TrimPrefix(strings.TrimSpace(string(v)), "slurm "), nil
}

// concurrently runs do(0..n-1) on conc goroutines and returns the wall time.
func concurrently(n, conc int, do func(i int) error) (time.Duration, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	start := time.Now()
	for range min(conc, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				if err := do(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start), first
}

// waitUntil polls done every 50 ms until it reports true, for at most limit.
func waitUntil(ctx context.Context, limit time.Duration, done func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not finished after %s", limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// trivialJob is a one-pod job running true in image.
func trivialJob(image string) []byte {
	return fmt.Appendf(nil, `{"jobType": "CustomJob", "displayName": "trivial", "command": "true",
 "jobSpecs": [{"type": "Worker", "podCount": 1, "image": %q, "resources": {"cpu": 1, "memory": "16Mi"}}]}`, image)
}

// atriumTrivialJobs submits n trivial jobs to an in-process server whose
// local executor has cpus CPUs and waits for them all to finish. Pods run
// as host processes, as Slurm runs its jobs.
func atriumTrivialJobs(ctx context.Context, n, conc, cpus int) (submit, makespan time.Duration, err error) {
	s, err := startBenchServer(ctx, "", conc, "--local-capacity", fmt.Sprintf("cpu=%d", cpus), "--runtime", runtimeProcess)
	if err != nil {
		return 0, 0, err
	}
	defer s.Stop()
	return s.trivialJobs(ctx, n, conc, "busybox")
}

// trivialJobs submits n trivial jobs from conc clients to a new workspace
// and waits until all have succeeded.
func (s *benchServer) trivialJobs(ctx context.Context, n, conc int, image string) (submit, makespan time.Duration, err error) {
	ws, err := s.workspace(ctx)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	submit, err = concurrently(n, conc, func(int) error {
		_, err := s.Client.SubmitJob(ctx, ws, trivialJob(image))
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("submit: %w", err)
	}
	ended := []string{atrium.JobSucceeded, atrium.JobFailed, atrium.JobStopped}
	err = waitUntil(ctx, 10*time.Minute, func() (bool, error) {
		l, err := s.Client.ListJobs(ctx, ws, httpapi.ListJobsOptions{Status: ended, PageOptions: httpapi.PageOptions{PageSize: 1}})
		return err == nil && l.TotalCount >= n, err
	})
	makespan = time.Since(start)
	if err != nil {
		return 0, 0, err
	}
	ok, err := s.Client.ListJobs(ctx, ws, httpapi.ListJobsOptions{Status: []string{atrium.JobSucceeded}, PageOptions: httpapi.PageOptions{PageSize: 1}})
	if err != nil {
		return 0, 0, err
	}
	if ok.TotalCount != n {
		return 0, 0, fmt.Errorf("%d of %d trivial jobs did not succeed", n-ok.TotalCount, n)
	}
	return submit, makespan, nil
}

// slurmTrivialJobs submits n trivial batch jobs with sbatch and waits until
// squeue shows them all COMPLETED.
func slurmTrivialJobs(ctx context.Context, n, conc int, partition string) (submit, makespan time.Duration, err error) {
	name := benchName()
	start := time.Now()
	submit, err = concurrently(n, conc, func(int) error {
		out, err := exec.CommandContext(ctx, "sbatch", "--parsable", "-p", partition, "-J", name, "-c", "1", "--mem=16M",
			"-o", "/dev/null", "-e", "/dev/null", "--wrap", "true").CombinedOutput()
		if err != nil {
			return fmt.Errorf("sbatch: %v: %s", err, strings.TrimSpace(string(out)))
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	var states map[string]int
	err = waitUntil(ctx, 10*time.Minute, func() (bool, error) {
		out, err := exec.CommandContext(ctx, "squeue", "-h", "-t", "all", "-n", name, "-o", "%T").Output()
		if err != nil {
			return false, fmt.Errorf("squeue: %w", err)
		}
		states = map[string]int{}
		finished := 0
		for _, st := range strings.Fields(string(out)) {
			states[st]++
			if st != "PENDING" && st != "RUNNING" && st != "CONFIGURING" && st != "COMPLETING" && st != "SUSPENDED" {
				finished++
			}
		}
		return finished >= n, nil
	})
	makespan = time.Since(start)
	if err != nil {
		return 0, 0, err
	}
	if states["COMPLETED"] != n {
		return 0, 0, fmt.Errorf("not all %d jobs completed: %v", n, states)
	}
	return submit, makespan, nil
}
