package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"atrium"
)

// podsBench is the result of 'atrium bench pods' for one runtime.
type podsBench struct {
	Runtime string `json:"runtime"`
	Image   string `json:"image"`
	CPUs    int    `json:"cpus"`
	// Start latency: the job's submission to its pod running, from the
	// server's own timestamps, one job at a time on an idle server.
	LatencyJobs     int     `json:"latencyJobs"`
	StartP50Millis  float64 `json:"startP50Millis"`
	StartP99Millis  float64 `json:"startP99Millis"`
	StartMaxMillis  float64 `json:"startMaxMillis"`
	RateJobs        int     `json:"rateJobs"`
	Concurrency     int     `json:"concurrency"`
	JobsPerSecond   float64 `json:"jobsPerSecond"` // trivial jobs submitted, run and finished
	MakespanSeconds float64 `json:"makespanSeconds"`
	GoVersion       string  `json:"goVersion"`
}

func newBenchPodsCmd() *cobra.Command {
	var latencyJobs, rateJobs, conc, cpus int
	var runtimes, image, output string
	cmd := &cobra.Command{
		Use:   "pods",
		Short: "Measure pod start latency and the trivial-job rate, in containers and as processes",
		Long: `Starts 'atrium serve' inside this process on a temporary SQLite database
once per --runtimes entry (podman, process) and measures:

  start latency   --latency-jobs jobs one after another, each on an idle
                  server: submission to the pod running, from the job's
                  submittedAt and startedAt (the container's or process's
                  own start); p50, p99 and max.
  rate            --rate-jobs trivial jobs (command true, 1 CPU) submitted
                  from --concurrency clients on --cpus CPUs; jobs finished
                  per second from the first submission to the last end.

The podman runtime needs podman and the image (scripts/images-up.sh builds
localhost/atrium/busybox).`,
		Example: "  atrium bench pods --runtimes podman,process -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "table" && output != "json" {
				return fmt.Errorf("--output must be table or json")
			}
			if latencyJobs < 1 || rateJobs < 1 || conc < 1 || cpus < 1 {
				return fmt.Errorf("--latency-jobs, --rate-jobs, --concurrency and --cpus must be positive")
			}
			var res []podsBench
			for _, rt := range strings.Split(runtimes, ",") {
				if rt != runtimePodman && rt != runtimeProcess {
					return fmt.Errorf("--runtimes: each must be podman or process, not %q", rt)
				}
				r, err := benchPods(cmd.Context(), rt, image, latencyJobs, rateJobs, conc, cpus)
				if err != nil {
					return fmt.Errorf("%s: %w", rt, err)
				}
				res = append(res, r)
			}
			return printBench(cmd.OutOrStdout(), output, res, func(out io.Writer) error {
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "RUNTIME\tSTART P50 (ms)\tP99\tMAX\tTRIVIAL JOBS/S\tJOBS\tCPUS")
				for _, r := range res {
					fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t%.1f\t%d\t%d\n", r.Runtime, r.StartP50Millis, r.StartP99Millis, r.StartMaxMillis,
						r.JobsPerSecond, r.RateJobs, r.CPUs)
				}
				return tw.Flush()
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&runtimes, "runtimes", "podman,process", "comma-separated runtimes to measure: podman, process")
	f.StringVar(&image, "image", "localhost/atrium/busybox:latest", "image of the trivial jobs")
	f.IntVar(&latencyJobs, "latency-jobs", 20, "jobs started one at a time for the latency")
	f.IntVar(&rateJobs, "rate-jobs", 100, "trivial jobs for the rate")
	f.IntVar(&conc, "concurrency", 8, "parallel submitters for the rate")
	f.IntVar(&cpus, "cpus", 2, "CPUs the local resource group offers")
	f.StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func benchPods(ctx context.Context, rt, image string, latencyJobs, rateJobs, conc, cpus int) (podsBench, error) {
	res := podsBench{Runtime: rt, Image: image, CPUs: cpus, LatencyJobs: latencyJobs, RateJobs: rateJobs, Concurrency: conc,
		GoVersion: runtime.Version()}
	s, err := startBenchServer(ctx, "", conc, "--local-capacity", fmt.Sprintf("cpu=%d,memory=8Gi", cpus), "--runtime", rt)
	if err != nil {
		return res, err
	}
	defer s.Stop()
	ws, err := s.workspace(ctx)
	if err != nil {
		return res, err
	}
	var lat []time.Duration
	for range latencyJobs {
		j, err := s.Client.SubmitJob(ctx, ws, trivialJob(image))
		if err != nil {
			return res, fmt.Errorf("submit: %w", err)
		}
		err = waitUntil(ctx, 2*time.Minute, func() (bool, error) {
			j, err = s.Client.GetJob(ctx, ws, j.ID)
			return err == nil && (j.Status == atrium.JobSucceeded || j.Status == atrium.JobFailed || j.Status == atrium.JobStopped), err
		})
		if err != nil {
			return res, err
		}
		if j.Status != atrium.JobSucceeded || j.StartedAt == nil {
			return res, fmt.Errorf("job %s: %s %s: %s", j.ID, j.Status, j.ReasonCode, j.ReasonMessage)
		}
		lat = append(lat, j.StartedAt.Sub(j.SubmittedAt))
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	res.StartP50Millis, res.StartP99Millis, res.StartMaxMillis = ms(lat[len(lat)/2]), ms(lat[(len(lat)*99)/100]), ms(lat[len(lat)-1])

	_, makespan, err := s.trivialJobs(ctx, rateJobs, conc, image)
	if err != nil {
		return res, err
	}
	res.MakespanSeconds = makespan.Seconds()
	res.JobsPerSecond = float64(rateJobs) / makespan.Seconds()
	return res, nil
}
