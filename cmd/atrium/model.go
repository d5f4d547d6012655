package main

// atrium model …: models, their versions, approval and lineage.

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"atrium/httpapi"
)

var modelCLI = &assetCLI{
	use: "model", noun: "model", aliases: []string{"models"}, kind: httpapi.KindModels,
	short: "Create, list and version models; approve versions; trace lineage",
	long: `Models of the selected workspace and their versions, named MAJOR.MINOR.PATCH
(default 0.1.0, then the next minor). A version starts Pending; an Operator
or Admin approves or rejects it once — with the workspace's
requireSeparateApprover (default on) never its own creator. A version made
from a finished job (--from-job) links to it: 'atrium model lineage' shows
the job, its dataset versions, code source and image.`,
	example: `  atrium model create bert --domain nlp --task classification
  atrium model version create model-4kq2m7xw3a --name 1.0.0 --uri oss://b/bert/1.0.0 --framework-type PyTorch --from-job dlc-9x8y7z
  atrium model version approve model-4kq2m7xw3a 1.0.0
  atrium model lineage model-4kq2m7xw3a 1.0.0`,
	fields: []assetFlag{
		{flag: "domain", field: "domain", usage: "e.g. nlp, cv"},
		{flag: "task", field: "task", usage: "e.g. classification"},
	},
	columns: []string{"domain", "task"},
	versions: &versionCLI{
		named: true,
		fields: []assetFlag{
			{flag: "uri", field: "uri", usage: "where the model files live; never changes"},
			{flag: "format-type", field: "formatType", usage: "e.g. SavedModel, ONNX, TorchScript"},
			{flag: "framework-type", field: "frameworkType", usage: "e.g. PyTorch, TensorFlow"},
			{flag: "source-type", field: "sourceType", usage: "Job, PipelineRun or Custom (default)"},
			{flag: "source-id", field: "sourceId", usage: "the job or pipeline run it came from"},
		},
		columns: []string{"approvalStatus", "frameworkType", "uri", "sourceId"},
		example: `  atrium model version create model-4kq2m7xw3a --uri oss://b/bert/1.0.0 --from-job dlc-9x8y7z --metrics '{"accuracy":0.93}'`,
		extra: func(cmd *cobra.Command) func(s *session, body map[string]any) error {
			var fromJob, metrics string
			cmd.Flags().StringVar(&fromJob, "from-job", "", "register the output of this finished (Succeeded) job: sourceType Job, sourceId ID")
			cmd.Flags().StringVar(&metrics, "metrics", "", "metrics as a JSON object (at most 8 KiB)")
			return func(s *session, body map[string]any) error {
				if fromJob != "" {
					if st, ok := body["sourceType"]; ok && st != "Job" {
						return fmt.Errorf("--from-job excludes --source-type %v", st)
					}
					body["sourceType"], body["sourceId"] = "Job", fromJob
				}
				if metrics != "" {
					var m map[string]any
					if err := json.Unmarshal([]byte(metrics), &m); err != nil {
						return fmt.Errorf("--metrics: must be a JSON object: %w", err)
					}
					body["metrics"] = m
				}
				return nil
			}
		},
	},
}

func newModelCmd(c *cli) *cobra.Command {
	cmd := newAssetCmd(c, modelCLI, newModelLineageCmd(c))
	for _, sub := range cmd.Commands() {
		if sub.Name() == "version" {
			sub.AddCommand(newModelApprovalCmd(c, "approve", "Approved"), newModelApprovalCmd(c, "reject", "Rejected"))
		}
	}
	return cmd
}

func newModelApprovalCmd(c *cli, verb, status string) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " MODEL VERSION",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " a Pending model version (Operator, Admin; not its creator)",
		Args:  cobra.ExactArgs(2),
		RunE: c.run(func(s *session, args []string) error {
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			o, err := s.client.SetModelVersionApproval(s.ctx, ws, args[0], args[1], status)
			if err != nil {
				return err
			}
			return s.print(o, func(w io.Writer) { modelCLI.detail(w, o) })
		}),
	}
}

func newModelLineageCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "lineage MODEL VERSION",
		Short: "Show where a model version came from: job, dataset versions, code source, image",
		Args:  cobra.ExactArgs(2),
		RunE: c.run(func(s *session, args []string) error {
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			l, err := s.client.ModelLineage(s.ctx, ws, args[0], args[1])
			if err != nil {
				return err
			}
			return s.print(l, func(w io.Writer) {
				v := l.Version
				kv(w, "Model", v.ModelID, "Version", v.VersionName, "Approval", v.ApprovalStatus, "Source", orDash(strings.TrimSpace(v.SourceType+" "+v.SourceID)))
				if j := l.Job; j != nil {
					kv(w, "Job", j.ID+" ("+j.DisplayName+", "+j.JobType+", "+j.Status+")")
				}
				kv(w, "Image", orDash(l.Image))
				if cs := l.CodeSource; cs != nil {
					kv(w, "Code source", strings.TrimSpace(cs.ID+" "+cs.Repo+" "+cs.Branch+" "+cs.Commit))
				}
				for _, d := range l.DataSources {
					kv(w, "Data", strings.TrimSpace(orDash(d.DatasetID)+" "+d.DatasetName+" "+d.Version+" "+d.URI))
				}
			})
		}),
	}
}

// jsonCompact renders a value as one line of JSON.
func jsonCompact(v any) (string, error) {
	if v == nil {
		return "", nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}
