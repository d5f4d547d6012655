package sqlstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"

	"atrium"
)

// CreateAsset inserts a, setting its id (when empty, by kind), Version 1 and
// its timestamps (when zero). ENOTFOUND for an unknown workspace, EINVALID
// (kind) for an unknown kind, ECONFLICT when the workspace already has an
// asset of that kind and name.
func (db *DB) CreateAsset(ctx context.Context, a *atrium.Asset) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := createAsset(ctx, tx, a); err != nil {
		return err
	}
	if err := tx.recordAudit(ctx, a.WorkspaceID, a.ID); err != nil {
		return err
	}
	return tx.Commit()
}

// FindAssetByID returns ENOTFOUND if absent.
func (db *DB) FindAssetByID(ctx context.Context, id string) (*atrium.Asset, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findAssetByID(ctx, tx, id, false)
}

// FindAssets returns a page of one kind of asset in one workspace and the
// total. EINVALID for a missing workspace or kind, a bad sort key or a bad
// filter expression.
func (db *DB) FindAssets(ctx context.Context, f atrium.AssetFilter) ([]*atrium.Asset, int, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	return findAssets(ctx, tx, f)
}

// UpdateAsset applies upd and returns the asset as written. ENOTFOUND if
// absent, ECONFLICT if the new name is taken.
func (db *DB) UpdateAsset(ctx context.Context, id string, upd atrium.AssetUpdate) (*atrium.Asset, error) {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	a, err := updateAsset(ctx, tx, id, upd)
	if err != nil {
		return nil, err
	}
	if err := tx.recordAudit(ctx, a.WorkspaceID, a.ID); err != nil {
		return nil, err
	}
	return a, tx.Commit()
}

// DeleteAsset removes the asset and its versions (ON DELETE CASCADE).
// ENOTFOUND if absent.
func (db *DB) DeleteAsset(ctx context.Context, id string) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	a, err := findAssetByID(ctx, tx, id, true)
	if err != nil {
		return err
	}
	if _, err := tx.exec(ctx, "DELETE FROM assets WHERE id = ?", id); err != nil {
		return fmt.Errorf("delete asset: %w", err)
	}
	if err := tx.recordAudit(ctx, a.WorkspaceID, a.ID); err != nil {
		return err
	}
	return tx.Commit()
}

// CreateAssetVersion inserts v as the asset's newest version (Seq one past
// the largest) and makes it the asset's LatestVersion. WorkspaceID and Kind
// come from the asset; the timestamps are set when zero. ENOTFOUND for an
// unknown asset, ECONFLICT if the name is taken.
func (db *DB) CreateAssetVersion(ctx context.Context, v *atrium.AssetVersion) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := createAssetVersion(ctx, tx, v); err != nil {
		return err
	}
	if err := tx.recordAudit(ctx, v.WorkspaceID, v.AssetID+"/"+v.Name); err != nil {
		return err
	}
	return tx.Commit()
}

// FindAssetVersion returns ENOTFOUND if absent.
func (db *DB) FindAssetVersion(ctx context.Context, assetID, name string) (*atrium.AssetVersion, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findAssetVersion(ctx, tx, assetID, name, false)
}

// FindAssetVersions lists an asset's versions, newest first. ENOTFOUND for
// an unknown asset.
func (db *DB) FindAssetVersions(ctx context.Context, assetID string) ([]*atrium.AssetVersion, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if _, err := findAssetByID(ctx, tx, assetID, false); err != nil {
		return nil, err
	}
	return queryAssetVersions(ctx, tx, "asset_id = ?", "", assetID)
}

// UpdateAssetVersion applies upd, writes upd.Event to the outbox and
// returns the version as written. With upd.FromApproval set it applies only
// while the version's approval status is still that (ECONFLICT otherwise).
// A change of approval status sets ApprovedAt (cleared when it goes back to
// Pending). ENOTFOUND if absent.
func (db *DB) UpdateAssetVersion(ctx context.Context, assetID, name string, upd atrium.AssetVersionUpdate) (*atrium.AssetVersion, error) {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	v, err := updateAssetVersion(ctx, tx, assetID, name, upd)
	if err != nil {
		return nil, err
	}
	if err := tx.recordAudit(ctx, v.WorkspaceID, v.AssetID+"/"+v.Name); err != nil {
		return nil, err
	}
	return v, tx.Commit()
}

// DeleteAssetVersion removes a version; if it was the asset's latest, the
// newest remaining one (or none) becomes latest. ENOTFOUND if absent.
func (db *DB) DeleteAssetVersion(ctx context.Context, assetID, name string) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	v, err := deleteAssetVersion(ctx, tx, assetID, name)
	if err != nil {
		return err
	}
	if err := tx.recordAudit(ctx, v.WorkspaceID, v.AssetID+"/"+v.Name); err != nil {
		return err
	}
	return tx.Commit()
}

func createAsset(ctx context.Context, tx *txn, a *atrium.Asset) error {
	prefix, ok := atrium.AssetPrefix[a.Kind]
	if !ok {
		return atrium.FieldErrorf("kind", "must be one of %s", assetKinds())
	}
	if a.Name == "" {
		return atrium.FieldErrorf("name", "is required")
	}
	if a.Accessibility == "" {
		a.Accessibility = atrium.AccessPrivate
	}
	if err := checkAccessibility(a.Accessibility); err != nil {
		return err
	}
	spec, err := normJSON("spec", a.Spec)
	if err != nil {
		return err
	}
	// Locking the workspace keeps it from being deleted before the asset lands.
	if _, err := lockWorkspace(ctx, tx, a.WorkspaceID); err != nil {
		return err
	}
	if err := checkAssetName(ctx, tx, a.WorkspaceID, a.Kind, a.Name, ""); err != nil {
		return err
	}
	if a.ID == "" {
		a.ID = atrium.NewID(prefix)
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = tx.now
	}
	if a.UpdatedAt.IsZero() {
		a.UpdatedAt = tx.now
	}
	a.CreatedAt, a.UpdatedAt = normTime(a.CreatedAt), normTime(a.UpdatedAt)
	a.Labels, a.Spec, a.Secret = normLabels(a.Labels), spec, normSecret(a.Secret)
	a.Version = 1

	args, err := assetArgs(tx, a)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, "INSERT INTO assets ("+assetColumns+") VALUES ("+placeholders(assetColumnCount)+")", args...)
	if tx.d.uniqueViolation(err) {
		// The name was free a moment ago (and is locked on SQLite): the id
		// is taken, or a concurrent create took the name.
		return atrium.Errorf(atrium.ECONFLICT, "asset %q or a %s named %q already exists", a.ID, a.Kind, a.Name)
	} else if err != nil {
		return fmt.Errorf("insert asset: %w", err)
	}
	return nil
}

// checkAssetName returns ECONFLICT if the workspace has another asset (not
// id) of the kind with the name.
func checkAssetName(ctx context.Context, tx *txn, workspaceID, kind, name, id string) error {
	n, err := tx.count(ctx, "SELECT count(*) FROM assets WHERE workspace_id = ? AND kind = ? AND name = ? AND id <> ?",
		workspaceID, kind, name, id)
	if err != nil {
		return fmt.Errorf("find asset: %w", err)
	} else if n > 0 {
		return atrium.Errorf(atrium.ECONFLICT, "a %s named %q already exists in this workspace", kind, name)
	}
	return nil
}

func assetKinds() string {
	return strings.Join([]string{atrium.AssetDataset, atrium.AssetModel, atrium.AssetImage, atrium.AssetCodeSource, atrium.AssetAlgorithm, atrium.AssetConnection}, ", ")
}

func checkAccessibility(s string) error {
	if s != atrium.AccessPrivate && s != atrium.AccessPublic {
		return atrium.FieldErrorf("accessibility", "must be %s or %s", atrium.AccessPrivate, atrium.AccessPublic)
	}
	return nil
}

// normJSON gives a JSON document its stored form: compact, "{}" when empty.
// EINVALID naming field if it is not JSON.
func normJSON(field string, raw json.RawMessage) (json.RawMessage, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return json.RawMessage("{}"), nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, atrium.FieldErrorf(field, "is not valid JSON: %v", err)
	}
	return json.RawMessage(b.Bytes()), nil
}

// normLabels gives labels their stored form: never nil, a copy.
func normLabels(l map[string]string) map[string]string {
	if l == nil {
		return map[string]string{}
	}
	return maps.Clone(l)
}

// normSecret gives a secret its stored form: nil when empty.
func normSecret(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}

func labelsArg(l map[string]string) (string, error) {
	b, err := json.Marshal(normLabels(l))
	if err != nil {
		return "", fmt.Errorf("encode labels: %w", err)
	}
	return string(b), nil
}

func secretArg(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

const assetColumns = `id, workspace_id, kind, name, description, owner, owner_name, accessibility,
	labels, spec, secret, latest_version, created_at, updated_at, version`

const assetColumnCount = 15

// assetArgs returns a's column values in assetColumns order.
func assetArgs(tx *txn, a *atrium.Asset) ([]any, error) {
	labels, err := labelsArg(a.Labels)
	if err != nil {
		return nil, err
	}
	return []any{
		a.ID, a.WorkspaceID, a.Kind, a.Name, a.Description, a.Owner, a.OwnerName, a.Accessibility,
		labels, string(a.Spec), secretArg(a.Secret), a.LatestVersion, tx.d.timeArg(a.CreatedAt), tx.d.timeArg(a.UpdatedAt), a.Version,
	}, nil
}

func findAssetByID(ctx context.Context, tx *txn, id string, lock bool) (*atrium.Asset, error) {
	suffix := ""
	if lock {
		suffix = tx.d.forUpdate
	}
	as, err := queryAssets(ctx, tx, "id = ?", "", "", suffix, id)
	if err != nil {
		return nil, err
	} else if len(as) == 0 {
		return nil, atrium.Errorf(atrium.ENOTFOUND, "asset %q not found", id)
	}
	return as[0], nil
}

// assetSorts maps AssetFilter.SortBy to columns.
var assetSorts = map[string]string{"": "created_at", "createdAt": "created_at", "updatedAt": "updated_at", "name": "name"}

func findAssets(ctx context.Context, tx *txn, f atrium.AssetFilter) ([]*atrium.Asset, int, error) {
	if f.WorkspaceID == "" {
		return nil, 0, atrium.FieldErrorf("workspaceId", "is required")
	}
	if _, ok := atrium.AssetPrefix[f.Kind]; !ok {
		return nil, 0, atrium.FieldErrorf("kind", "must be one of %s", assetKinds())
	}
	col, ok := assetSorts[f.SortBy]
	if !ok {
		return nil, 0, atrium.FieldErrorf("sortBy", "must be name, createdAt or updatedAt")
	}
	where, args := []string{"workspace_id = ?", "kind = ?"}, []any{f.WorkspaceID, f.Kind}
	switch f.VisibleTo {
	case "":
	case "-":
		where, args = append(where, "accessibility = ?"), append(args, atrium.AccessPublic)
	default:
		where, args = append(where, "(owner = ? OR accessibility = ?)"), append(args, f.VisibleTo, atrium.AccessPublic)
	}
	if strings.TrimSpace(f.Filter) != "" {
		cond, fargs, err := compileAssetFilter(tx.d, f.Kind, f.Filter)
		if err != nil {
			return nil, 0, err
		}
		where, args = append(where, "("+cond+")"), append(args, fargs...)
	}
	cond := strings.Join(where, " AND ")

	n, err := tx.count(ctx, "SELECT count(*) FROM assets WHERE "+cond, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("count assets: %w", err)
	}
	dir := ""
	if f.Desc {
		dir = " DESC"
	}
	if col == "name" {
		col += tx.d.collate
	}
	order := col + dir + ", id" + tx.d.collate + dir
	as, err := queryAssets(ctx, tx, cond, order, tx.d.limitOffset(f.Limit, f.Offset), "", args...)
	if err != nil {
		return nil, 0, err
	}
	return as, n, nil
}

// queryAssets lists the assets matching cond in order (by creation when
// empty); page is a LIMIT/OFFSET clause and suffix may lock the rows.
func queryAssets(ctx context.Context, tx *txn, cond, order, page, suffix string, args ...any) ([]*atrium.Asset, error) {
	if order == "" {
		order = "created_at, id" + tx.d.collate
	}
	rows, err := tx.query(ctx, "SELECT "+assetColumns+" FROM assets WHERE "+cond+" ORDER BY "+order+page+suffix, args...)
	if err != nil {
		return nil, fmt.Errorf("find assets: %w", err)
	}
	defer rows.Close()
	as := []*atrium.Asset{}
	for rows.Next() {
		var a atrium.Asset
		var secret []byte
		if err := rows.Scan(&a.ID, &a.WorkspaceID, &a.Kind, &a.Name, &a.Description, &a.Owner, &a.OwnerName, &a.Accessibility,
			jsonCol{&a.Labels}, jsonCol{&a.Spec}, &secret, &a.LatestVersion, timeCol{&a.CreatedAt}, timeCol{&a.UpdatedAt}, &a.Version); err != nil {
			return nil, fmt.Errorf("scan asset: %w", err)
		}
		a.Labels, a.Secret = normLabels(a.Labels), normSecret(secret)
		as = append(as, &a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find assets: %w", err)
	}
	return as, nil
}

func updateAsset(ctx context.Context, tx *txn, id string, upd atrium.AssetUpdate) (*atrium.Asset, error) {
	a, err := findAssetByID(ctx, tx, id, true)
	if err != nil {
		return nil, err
	}
	version := a.Version
	if v := upd.Name; v != nil && *v != a.Name {
		if *v == "" {
			return nil, atrium.FieldErrorf("name", "is required")
		}
		if err := checkAssetName(ctx, tx, a.WorkspaceID, a.Kind, *v, a.ID); err != nil {
			return nil, err
		}
		a.Name = *v
	}
	if v := upd.Description; v != nil {
		a.Description = *v
	}
	if v := upd.Accessibility; v != nil {
		if err := checkAccessibility(*v); err != nil {
			return nil, err
		}
		a.Accessibility = *v
	}
	if v := upd.Owner; v != nil {
		a.Owner = *v
	}
	if v := upd.OwnerName; v != nil {
		a.OwnerName = *v
	}
	if v := upd.Labels; v != nil {
		a.Labels = normLabels(*v)
	}
	if v := upd.Spec; v != nil {
		spec, err := normJSON("spec", *v)
		if err != nil {
			return nil, err
		}
		a.Spec = spec
	}
	if v := upd.Secret; v != nil {
		a.Secret = normSecret(*v)
	}
	a.Version, a.UpdatedAt = version+1, tx.now
	if err := writeAsset(ctx, tx, a, version); err != nil {
		return nil, err
	}
	return a, nil
}

// writeAsset stores a, which the caller read (and locked) at version.
func writeAsset(ctx context.Context, tx *txn, a *atrium.Asset, version int64) error {
	args, err := assetArgs(tx, a)
	if err != nil {
		return err
	}
	// args start with id, workspace_id, kind, which never change; the id
	// and the version read go in the WHERE clause.
	res, err := tx.exec(ctx, `
		UPDATE assets SET name = ?, description = ?, owner = ?, owner_name = ?, accessibility = ?,
			labels = ?, spec = ?, secret = ?, latest_version = ?, created_at = ?, updated_at = ?, version = ?
		WHERE id = ? AND version = ?`, append(args[3:], a.ID, version)...)
	if tx.d.uniqueViolation(err) {
		return atrium.Errorf(atrium.ECONFLICT, "a %s named %q already exists in this workspace", a.Kind, a.Name)
	} else if err != nil {
		return fmt.Errorf("update asset: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update asset: %w", err)
	} else if n == 0 {
		// Not reached while the row is locked (PostgreSQL) or writers are
		// serialized (SQLite); kept so a lost lock cannot lose an update.
		return atrium.Errorf(atrium.ECONFLICT, "asset %s was changed concurrently; re-read it", a.ID)
	}
	return nil
}

func createAssetVersion(ctx context.Context, tx *txn, v *atrium.AssetVersion) error {
	if v.Name == "" {
		return atrium.FieldErrorf("versionName", "is required")
	}
	spec, err := normJSON("spec", v.Spec)
	if err != nil {
		return err
	}
	// Locking the asset serializes version numbering and latest_version.
	a, err := findAssetByID(ctx, tx, v.AssetID, true)
	if err != nil {
		return err
	}
	if n, err := tx.count(ctx, "SELECT count(*) FROM asset_versions WHERE asset_id = ? AND name = ?", a.ID, v.Name); err != nil {
		return fmt.Errorf("find asset version: %w", err)
	} else if n > 0 {
		return atrium.Errorf(atrium.ECONFLICT, "%s %s already has a version %q", a.Kind, a.ID, v.Name)
	}
	var seq int
	if err := tx.queryRow(ctx, "SELECT coalesce(max(seq), 0) FROM asset_versions WHERE asset_id = ?", a.ID).Scan(&seq); err != nil {
		return fmt.Errorf("find asset versions: %w", err)
	}
	v.WorkspaceID, v.Kind, v.Seq = a.WorkspaceID, a.Kind, seq+1
	if v.CreatedAt.IsZero() {
		v.CreatedAt = tx.now
	}
	if v.UpdatedAt.IsZero() {
		v.UpdatedAt = tx.now
	}
	v.CreatedAt, v.UpdatedAt, v.ApprovedAt = normTime(v.CreatedAt), normTime(v.UpdatedAt), normTimePtr(v.ApprovedAt)
	v.Labels, v.Spec = normLabels(v.Labels), spec

	args, err := assetVersionArgs(tx, v)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, "INSERT INTO asset_versions ("+assetVersionColumns+") VALUES ("+placeholders(assetVersionColumnCount)+")", args...)
	if tx.d.uniqueViolation(err) {
		return atrium.Errorf(atrium.ECONFLICT, "%s %s already has a version %q", a.Kind, a.ID, v.Name)
	} else if err != nil {
		return fmt.Errorf("insert asset version: %w", err)
	}
	version := a.Version
	a.LatestVersion, a.UpdatedAt, a.Version = v.Name, tx.now, version+1
	return writeAsset(ctx, tx, a, version)
}

const assetVersionColumns = `asset_id, workspace_id, kind, name, seq, description, uri, creator, creator_name,
	labels, spec, approval_status, approved_by, approved_at, source_type, source_id, created_at, updated_at`

const assetVersionColumnCount = 18

// assetVersionArgs returns v's column values in assetVersionColumns order.
func assetVersionArgs(tx *txn, v *atrium.AssetVersion) ([]any, error) {
	labels, err := labelsArg(v.Labels)
	if err != nil {
		return nil, err
	}
	return []any{
		v.AssetID, v.WorkspaceID, v.Kind, v.Name, v.Seq, v.Description, v.URI, v.Creator, v.CreatorName,
		labels, string(v.Spec), v.ApprovalStatus, v.ApprovedBy, tx.d.timePtrArg(v.ApprovedAt), v.SourceType, v.SourceID,
		tx.d.timeArg(v.CreatedAt), tx.d.timeArg(v.UpdatedAt),
	}, nil
}

func findAssetVersion(ctx context.Context, tx *txn, assetID, name string, lock bool) (*atrium.AssetVersion, error) {
	suffix := ""
	if lock {
		suffix = tx.d.forUpdate
	}
	vs, err := queryAssetVersions(ctx, tx, "asset_id = ? AND name = ?", suffix, assetID, name)
	if err != nil {
		return nil, err
	} else if len(vs) == 0 {
		return nil, atrium.Errorf(atrium.ENOTFOUND, "version %q of asset %q not found", name, assetID)
	}
	return vs[0], nil
}

// queryAssetVersions lists the versions matching cond, newest first.
func queryAssetVersions(ctx context.Context, tx *txn, cond, suffix string, args ...any) ([]*atrium.AssetVersion, error) {
	rows, err := tx.query(ctx, "SELECT "+assetVersionColumns+" FROM asset_versions WHERE "+cond+" ORDER BY seq DESC"+suffix, args...)
	if err != nil {
		return nil, fmt.Errorf("find asset versions: %w", err)
	}
	defer rows.Close()
	vs := []*atrium.AssetVersion{}
	for rows.Next() {
		var v atrium.AssetVersion
		if err := rows.Scan(&v.AssetID, &v.WorkspaceID, &v.Kind, &v.Name, &v.Seq, &v.Description, &v.URI, &v.Creator, &v.CreatorName,
			jsonCol{&v.Labels}, jsonCol{&v.Spec}, &v.ApprovalStatus, &v.ApprovedBy, nullTimeCol{&v.ApprovedAt}, &v.SourceType, &v.SourceID,
			timeCol{&v.CreatedAt}, timeCol{&v.UpdatedAt}); err != nil {
			return nil, fmt.Errorf("scan asset version: %w", err)
		}
		v.Labels = normLabels(v.Labels)
		vs = append(vs, &v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find asset versions: %w", err)
	}
	return vs, nil
}

func approvalConflict(name, status string) error {
	return atrium.Errorf(atrium.ECONFLICT, "version %s is %s now; an approval moves %s → %s or %s once",
		name, status, atrium.ApprovalPending, atrium.ApprovalApproved, atrium.ApprovalRejected)
}

func updateAssetVersion(ctx context.Context, tx *txn, assetID, name string, upd atrium.AssetVersionUpdate) (*atrium.AssetVersion, error) {
	v, err := findAssetVersion(ctx, tx, assetID, name, true)
	if err != nil {
		return nil, err
	}
	if upd.FromApproval != nil && v.ApprovalStatus != *upd.FromApproval {
		return nil, approvalConflict(name, v.ApprovalStatus)
	}
	if p := upd.Description; p != nil {
		v.Description = *p
	}
	if p := upd.Labels; p != nil {
		v.Labels = normLabels(*p)
	}
	if p := upd.Spec; p != nil {
		spec, err := normJSON("spec", *p)
		if err != nil {
			return nil, err
		}
		v.Spec = spec
	}
	if p := upd.ApprovalStatus; p != nil && *p != v.ApprovalStatus {
		v.ApprovalStatus = *p
		if *p == atrium.ApprovalPending {
			v.ApprovedAt = nil
		} else {
			now := tx.now
			v.ApprovedAt = &now
		}
	}
	if p := upd.ApprovedBy; p != nil {
		v.ApprovedBy = *p
	}
	v.UpdatedAt = tx.now

	labels, err := labelsArg(v.Labels)
	if err != nil {
		return nil, err
	}
	// The uri, lineage and creation fields never change.
	q := `UPDATE asset_versions SET description = ?, labels = ?, spec = ?, approval_status = ?, approved_by = ?,
			approved_at = ?, updated_at = ?
		WHERE asset_id = ? AND name = ?`
	args := []any{v.Description, labels, string(v.Spec), v.ApprovalStatus, v.ApprovedBy,
		tx.d.timePtrArg(v.ApprovedAt), tx.d.timeArg(v.UpdatedAt), assetID, name}
	if upd.FromApproval != nil {
		// Redundant while the row is locked (PostgreSQL) or writers are
		// serialized (SQLite); kept so a lost lock cannot approve twice.
		q += " AND approval_status = ?"
		args = append(args, *upd.FromApproval)
	}
	res, err := tx.exec(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("update asset version: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, fmt.Errorf("update asset version: %w", err)
	} else if n == 0 {
		if upd.FromApproval != nil {
			return nil, approvalConflict(name, "no longer "+*upd.FromApproval)
		}
		return nil, atrium.Errorf(atrium.ENOTFOUND, "version %q of asset %q not found", name, assetID)
	}
	if e := upd.Event; e != nil {
		if e.WorkspaceID == "" {
			e.WorkspaceID = v.WorkspaceID
		}
		if err := insertEvent(ctx, tx, e); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func deleteAssetVersion(ctx context.Context, tx *txn, assetID, name string) (*atrium.AssetVersion, error) {
	a, err := findAssetByID(ctx, tx, assetID, true)
	if err != nil {
		return nil, err
	}
	v, err := findAssetVersion(ctx, tx, assetID, name, true)
	if err != nil {
		return nil, err
	}
	if _, err := tx.exec(ctx, "DELETE FROM asset_versions WHERE asset_id = ? AND name = ?", assetID, name); err != nil {
		return nil, fmt.Errorf("delete asset version: %w", err)
	}
	if a.LatestVersion == name {
		latest := ""
		err := tx.queryRow(ctx, "SELECT name FROM asset_versions WHERE asset_id = ? ORDER BY seq DESC LIMIT 1", assetID).Scan(&latest)
		if err != nil && !isNoRows(err) {
			return nil, fmt.Errorf("find asset versions: %w", err)
		}
		version := a.Version
		a.LatestVersion, a.UpdatedAt, a.Version = latest, tx.now, version+1
		if err := writeAsset(ctx, tx, a, version); err != nil {
			return nil, err
		}
	}
	return v, nil
}
