// Package jobmount decides which host paths a job's pods see when they run
// in containers: its pipeline run's inputs (read-only) and its node's own
// output directory, and its file:// data sources under the directories the
// admin allows. Everything else of the host stays invisible. References
// are checked here, at start, against what the job may use: a job names
// a pipeline run only through Atrium's own environment variables, which a
// member could also set by hand.
package jobmount

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"atrium"
	"atrium/executor"
)

// Store is what the resolver reads.
type Store interface {
	FindPipelineRunByID(ctx context.Context, id string) (*atrium.PipelineRun, error)
	FindAssetVersion(ctx context.Context, assetID, name string) (*atrium.AssetVersion, error)
	FindAssetVersions(ctx context.Context, assetID string) ([]*atrium.AssetVersion, error)
	FindAssetByID(ctx context.Context, id string) (*atrium.Asset, error)
}

// Resolver computes a job's mounts.
type Resolver struct {
	Store Store
	// RunDir holds pipeline runs (<RunDir>/<runId>/<node>/<output>).
	RunDir string
	// DatasetRoots are the host directories file:// data sources may name;
	// none means file:// data sources are refused.
	DatasetRoots []string
	// CodeDir holds the jobs' code source checkouts (<CodeDir>/<jobId>);
	// empty: code sources are not checked out.
	CodeDir string
	// Secrets opens code sources' access tokens.
	Secrets Opener
}

// Mounts returns the job's mounts; an error names the field at fault.
func (r *Resolver) Mounts(ctx context.Context, j *atrium.Job) ([]executor.Mount, error) {
	var out []executor.Mount
	pm, err := r.pipelineMounts(ctx, j)
	if err != nil {
		return nil, err
	}
	out = append(out, pm...)
	cm, err := r.codeMount(ctx, j)
	if err != nil {
		return nil, err
	}
	out = append(out, cm...)
	for i, d := range j.Spec.DataSources {
		m, ok, err := r.dataMount(ctx, j, d)
		if err != nil {
			return nil, fmt.Errorf("dataSources[%d]: %w", i, err)
		}
		if ok {
			out = append(out, m)
		}
	}
	return out, nil
}

// pipelineMounts: a node job reads its run's directory and writes its
// node's own. The run must be the job's: same workspace and creator, and
// the node not another job's.
func (r *Resolver) pipelineMounts(ctx context.Context, j *atrium.Job) ([]executor.Mount, error) {
	runID, node := j.Spec.Envs["ATRIUM_PIPELINE_RUN_ID"], j.Spec.Envs["ATRIUM_PIPELINE_NODE"]
	if runID == "" || node == "" || r.RunDir == "" {
		return nil, nil
	}
	run, err := r.Store.FindPipelineRunByID(ctx, runID)
	if atrium.ErrorCode(err) == atrium.ENOTFOUND {
		return nil, fmt.Errorf("envs.ATRIUM_PIPELINE_RUN_ID: pipeline run %s does not exist", runID)
	} else if err != nil {
		return nil, err
	}
	n := run.Node(node)
	if run.WorkspaceID != j.WorkspaceID || run.Creator != j.Creator || n == nil || (n.JobID != "" && n.JobID != j.ID) {
		return nil, fmt.Errorf("envs.ATRIUM_PIPELINE_NODE: job %s is not node %q of pipeline run %s", j.ID, node, runID)
	}
	dir := filepath.Join(r.RunDir, run.ID)
	return []executor.Mount{
		{Source: dir, Target: dir, ReadOnly: true},
		{Source: filepath.Join(dir, node), Target: filepath.Join(dir, node), Owned: true},
	}, nil
}

// dataMount binds a file:// data source read-only at its mountPath; other
// schemes (object stores) are recorded, not mounted.
func (r *Resolver) dataMount(ctx context.Context, j *atrium.Job, d atrium.DataSource) (executor.Mount, bool, error) {
	uri := d.URI
	if d.DatasetID != "" {
		a, err := r.Store.FindAssetByID(ctx, d.DatasetID)
		if atrium.ErrorCode(err) == atrium.ENOTFOUND || (err == nil && (a.Kind != atrium.AssetDataset || !usable(a, j))) {
			return executor.Mount{}, false, fmt.Errorf("%s is not a dataset this job's creator may use", d.DatasetID)
		} else if err != nil {
			return executor.Mount{}, false, err
		}
		v, err := r.datasetVersion(ctx, d.DatasetID, d.Version)
		if err != nil {
			return executor.Mount{}, false, err
		}
		uri = v.URI
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "file" {
		return executor.Mount{}, false, nil
	}
	// Symbolic links are followed before the check: a link inside a root
	// must not lead out of it.
	path, err := filepath.EvalSymlinks(filepath.Clean(u.Path))
	if err != nil {
		return executor.Mount{}, false, fmt.Errorf("%s: %v", uri, err)
	}
	if !r.allowed(path) {
		return executor.Mount{}, false, fmt.Errorf("%s is outside the directories this server lets jobs mount (an admin allows them with atrium serve --dataset-root)", uri)
	}
	return executor.Mount{Source: path, Target: d.MountPath, ReadOnly: true}, true, nil
}

func (r *Resolver) datasetVersion(ctx context.Context, id, version string) (*atrium.AssetVersion, error) {
	if version != "" {
		v, err := r.Store.FindAssetVersion(ctx, id, version)
		if atrium.ErrorCode(err) == atrium.ENOTFOUND {
			return nil, fmt.Errorf("dataset %s has no version %s", id, strconv.Quote(version))
		}
		return v, err
	}
	vs, err := r.Store.FindAssetVersions(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("dataset %s has no version", id)
	}
	return vs[0], nil // newest
}

// allowed: path is one of the roots or below one, never by way of "..".
func (r *Resolver) allowed(path string) bool {
	for _, root := range r.DatasetRoots {
		root = filepath.Clean(root)
		if path == root || strings.HasPrefix(path, root+string(filepath.Separator)) {
			return true
		}
	}
	return false
}
