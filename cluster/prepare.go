package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"atrium"
)

// PrepareStore is what PrepareJob reads.
type PrepareStore interface {
	Store
	atrium.AccountMappings
	FindWorkspaceConfig(ctx context.Context, workspaceID string) (*atrium.WorkspaceConfig, error)
}

// Submitter is who submits a job: a member of the workspace with roles
// (their priority cap applies).
type Submitter struct {
	WorkspaceID, UserID, UserName string
	Roles                         []string
}

// PrepareJob validates spec for a job of kind against the workspace's
// rules — defaults and caps of policyKind (the kind itself, or Pipeline for
// a pipeline node's job), the submitter's priority cap, a usable quota —
// and builds the Queuing job it would become. The API's submissions and
// the pipeline controller's node jobs share it, so both obey one policy.
func PrepareJob(ctx context.Context, st PrepareStore, by Submitter, spec *atrium.JobSpec, kind, policyKind string, now time.Time) (*atrium.Job, error) {
	if err := spec.NormalizeFor(kind); err != nil {
		return nil, err
	}
	cfg, err := st.FindWorkspaceConfig(ctx, by.WorkspaceID)
	if err != nil {
		return nil, err
	}
	prio, run, err := spec.CheckPolicy(cfg, policyKind, by.Roles)
	if err != nil {
		return nil, err
	}
	quotaID := spec.QuotaID
	if quotaID == "" {
		quotaID = cmp.Or(cfg.DefaultQuotaID, atrium.PublicQuotaID)
	}
	usable, err := st.FindQuotas(ctx, atrium.QuotaFilter{UsableBy: by.WorkspaceID})
	if err != nil {
		return nil, err
	}
	found := false
	for _, q := range usable {
		found = found || q.ID == quotaID
	}
	if !found {
		field := "quotaId"
		if spec.QuotaID == "" {
			return nil, atrium.FieldErrorf(field, "is required: the workspace has no default quota and %s is not offered to it", atrium.PublicQuotaID)
		}
		return nil, atrium.FieldErrorf(field, "quota %q is not bound to this workspace (see GET …/quotas)", quotaID)
	}
	cpuOn, err := FillCPUOnlyType(ctx, st, quotaID, spec)
	if err != nil {
		return nil, err
	}
	if err := checkGroups(ctx, st, by, spec, quotaID); err != nil {
		return nil, err
	}
	now = now.UTC()
	j := &atrium.Job{WorkspaceID: by.WorkspaceID, Kind: kind, DisplayName: spec.DisplayName, Description: spec.Description,
		JobType: spec.JobType, Creator: by.UserID, CreatorName: by.UserName, QuotaID: quotaID, Priority: prio,
		Accessibility: spec.Accessibility, MaxRunningTime: atrium.Duration(run), Spec: *spec,
		Status: atrium.JobQueuing, ReasonCode: atrium.ReasonSubmitted, ReasonMessage: "waiting for the scheduler",
		StatusHistory: []atrium.StatusChange{
			{Status: atrium.JobCreating, ReasonCode: atrium.ReasonSubmitted, ReasonMessage: "submitted by " + by.UserName, Time: now},
			{Status: atrium.JobQueuing, ReasonCode: atrium.ReasonSubmitted, ReasonMessage: "queued in quota " + quotaID, Time: now},
		},
		Pods: []atrium.Pod{}, SubmittedAt: now}
	if cpuOn != "" {
		j.ReasonMessage = fmt.Sprintf("waiting for the scheduler; CPU-only pods run on %s nodes, as quota %s has no CPU-only nodes", cpuOn, quotaID)
	}
	return j, nil
}

// checkGroups refuses a job that a resource group of its quota could not
// start, rather than let it fail when the scheduler places it there: a
// slurm group runs no images (only atrium.HostImage) and needs a Unix
// account for the submitter (a user's, the workspace's or the group's
// default). A gang runs in one group, but which one is the scheduler's
// choice, so every group of the quota must be able to run it.
func checkGroups(ctx context.Context, st PrepareStore, by Submitter, spec *atrium.JobSpec, quotaID string) error {
	ids, err := rootGroups(ctx, st, quotaID)
	if err != nil || len(ids) == 0 {
		return err
	}
	groups, err := st.FindResourceGroups(ctx)
	if err != nil {
		return err
	}
	for _, g := range groups {
		if !slices.Contains(ids, g.ID) {
			continue
		}
		if !atrium.AcceptsImages(g.Backend) {
			for i, r := range spec.JobSpecs {
				if r.Image != atrium.HostImage {
					return atrium.FieldErrorf(fmt.Sprintf("jobSpecs[%d].image", i),
						"%q cannot run: quota %s runs jobs on %s resource group %s, which runs commands directly on its nodes' hosts and cannot run images; "+
							"set image to %q to run the command on the host, or use a quota on another resource group",
						r.Image, quotaID, g.Backend, g.Name, atrium.HostImage)
				}
			}
		}
		var none *atrium.NoUnixAccountError
		if _, err := atrium.ResolveUnixAccount(ctx, st, g, by.WorkspaceID, by.UserID); errors.As(err, &none) {
			return atrium.FieldErrorf("quotaId", "quota %s runs jobs on resource group %s, but %v", quotaID, g.Name, err)
		} else if err != nil {
			return err
		}
	}
	return nil
}
