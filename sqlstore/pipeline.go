package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"atrium"
)

// CreatePipeline inserts p as version 1. ENOTFOUND for an unknown
// workspace, ECONFLICT (name) when the workspace has a pipeline so named.
func (db *DB) CreatePipeline(ctx context.Context, p *atrium.Pipeline) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := lockWorkspace(ctx, tx, p.WorkspaceID); err != nil {
		return err
	}
	if p.ID == "" {
		p.ID = atrium.NewID(atrium.PrefixPipeline)
	}
	if p.Accessibility == "" {
		p.Accessibility = atrium.AccessPrivate
	}
	p.Version, p.CreatedAt, p.UpdatedAt = 1, tx.now, tx.now
	_, err = tx.exec(ctx, `INSERT INTO pipelines (id, workspace_id, name, description, creator, creator_name, accessibility,
		latest_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`,
		p.ID, p.WorkspaceID, p.Name, p.Description, p.Creator, p.CreatorName, p.Accessibility, tx.d.timeArg(tx.now), tx.d.timeArg(tx.now))
	if tx.d.uniqueViolation(err) {
		return &atrium.Error{Code: atrium.ECONFLICT, Field: "name", Message: fmt.Sprintf("the workspace already has a pipeline named %q", p.Name)}
	} else if err != nil {
		return fmt.Errorf("insert pipeline: %w", err)
	}
	if err := insertPipelineVersion(ctx, tx, p.ID, 1, &p.Spec); err != nil {
		return err
	}
	if err := tx.recordAudit(ctx, p.WorkspaceID, p.ID); err != nil {
		return err
	}
	return tx.Commit()
}

func insertPipelineVersion(ctx context.Context, tx *txn, id string, version int, spec *atrium.PipelineSpec) error {
	b, err := json.Marshal(spec)
	if err != nil {
		return fmt.Errorf("encode pipeline spec: %w", err)
	}
	_, err = tx.exec(ctx, "INSERT INTO pipeline_versions (pipeline_id, version, spec, created_at) VALUES (?, ?, ?, ?)",
		id, version, string(b), tx.d.timeArg(tx.now))
	if err != nil {
		return fmt.Errorf("insert pipeline version: %w", err)
	}
	return nil
}

// FindPipelineByID returns the pipeline with the spec of version (the
// latest when 0). ENOTFOUND if the pipeline or version is absent.
func (db *DB) FindPipelineByID(ctx context.Context, id string, version int) (*atrium.Pipeline, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findPipeline(ctx, tx, id, version, false)
}

const pipelineColumns = "p.id, p.workspace_id, p.name, p.description, p.creator, p.creator_name, p.accessibility, v.version, v.spec, p.created_at, p.updated_at"

func scanPipelines(ctx context.Context, tx *txn, query string, args ...any) ([]*atrium.Pipeline, error) {
	rows, err := tx.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("find pipelines: %w", err)
	}
	defer rows.Close()
	out := []*atrium.Pipeline{}
	for rows.Next() {
		var p atrium.Pipeline
		if err := rows.Scan(&p.ID, &p.WorkspaceID, &p.Name, &p.Description, &p.Creator, &p.CreatorName, &p.Accessibility,
			&p.Version, jsonCol{&p.Spec}, timeCol{&p.CreatedAt}, timeCol{&p.UpdatedAt}); err != nil {
			return nil, fmt.Errorf("scan pipeline: %w", err)
		}
		out = append(out, &p)
	}
	return out, rows.Err()
}

func findPipeline(ctx context.Context, tx *txn, id string, version int, lock bool) (*atrium.Pipeline, error) {
	q := "SELECT " + pipelineColumns + " FROM pipelines p JOIN pipeline_versions v ON v.pipeline_id = p.id WHERE p.id = ? AND "
	args := []any{id}
	if version > 0 {
		q, args = q+"v.version = ?", append(args, version)
	} else {
		q += "v.version = p.latest_version"
	}
	if lock {
		q += tx.d.forUpdate
	}
	ps, err := scanPipelines(ctx, tx, q, args...)
	if err != nil {
		return nil, err
	} else if len(ps) == 0 {
		if version > 0 {
			return nil, atrium.Errorf(atrium.ENOTFOUND, "pipeline %q has no version %d", id, version)
		}
		return nil, atrium.Errorf(atrium.ENOTFOUND, "pipeline %q not found", id)
	}
	return ps[0], nil
}

// FindPipelineVersions lists a pipeline's versions, newest first; each
// carries its version's spec and creation time. ENOTFOUND if absent.
func (db *DB) FindPipelineVersions(ctx context.Context, id string) ([]*atrium.Pipeline, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	ps, err := scanPipelines(ctx, tx, "SELECT p.id, p.workspace_id, p.name, p.description, p.creator, p.creator_name, p.accessibility, v.version, v.spec, "+
		"v.created_at, v.created_at FROM pipelines p JOIN pipeline_versions v ON v.pipeline_id = p.id WHERE p.id = ? ORDER BY v.version DESC", id)
	if err != nil {
		return nil, err
	} else if len(ps) == 0 {
		return nil, atrium.Errorf(atrium.ENOTFOUND, "pipeline %q not found", id)
	}
	return ps, nil
}

// FindPipelines returns a page of pipelines (latest versions) by name and
// the total.
func (db *DB) FindPipelines(ctx context.Context, f atrium.PipelineFilter) ([]*atrium.Pipeline, int, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	where, args := []string{"p.workspace_id = ?"}, []any{f.WorkspaceID}
	if f.Name != "" {
		where, args = append(where, "p.name = ?"), append(args, f.Name)
	}
	if f.VisibleTo != "" {
		where, args = append(where, "(p.creator = ? OR p.accessibility = ?)"), append(args, f.VisibleTo, atrium.AccessPublic)
	}
	cond := strings.Join(where, " AND ")
	n, err := tx.count(ctx, "SELECT count(*) FROM pipelines p WHERE "+cond, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("count pipelines: %w", err)
	}
	ps, err := scanPipelines(ctx, tx, "SELECT "+pipelineColumns+" FROM pipelines p JOIN pipeline_versions v ON v.pipeline_id = p.id AND v.version = p.latest_version WHERE "+
		cond+" ORDER BY p.name"+tx.d.collate+tx.d.limitOffset(f.Limit, f.Offset), args...)
	if err != nil {
		return nil, 0, err
	}
	return ps, n, nil
}

// UpdatePipeline saves spec as the next version and sets the description.
// ENOTFOUND if absent.
func (db *DB) UpdatePipeline(ctx context.Context, id, description string, spec atrium.PipelineSpec) (*atrium.Pipeline, error) {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	p, err := findPipeline(ctx, tx, id, 0, true)
	if err != nil {
		return nil, err
	}
	p.Version++
	p.Description, p.Spec, p.UpdatedAt = description, spec, tx.now
	if err := insertPipelineVersion(ctx, tx, id, p.Version, &spec); err != nil {
		return nil, err
	}
	if _, err := tx.exec(ctx, "UPDATE pipelines SET latest_version = ?, description = ?, updated_at = ? WHERE id = ?",
		p.Version, description, tx.d.timeArg(tx.now), id); err != nil {
		return nil, fmt.Errorf("update pipeline: %w", err)
	}
	if err := tx.recordAudit(ctx, p.WorkspaceID, p.ID); err != nil {
		return nil, err
	}
	return p, tx.Commit()
}

// DeletePipeline removes a pipeline and its versions; its runs stay.
// ENOTFOUND if absent.
func (db *DB) DeletePipeline(ctx context.Context, id string) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	p, err := findPipeline(ctx, tx, id, 0, true)
	if err != nil {
		return err
	}
	if _, err := tx.exec(ctx, "DELETE FROM pipeline_versions WHERE pipeline_id = ?", id); err != nil {
		return fmt.Errorf("delete pipeline versions: %w", err)
	}
	if _, err := tx.exec(ctx, "DELETE FROM pipelines WHERE id = ?", id); err != nil {
		return fmt.Errorf("delete pipeline: %w", err)
	}
	if err := tx.recordAudit(ctx, p.WorkspaceID, p.ID); err != nil {
		return err
	}
	return tx.Commit()
}
