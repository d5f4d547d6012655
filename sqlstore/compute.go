package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	jsonv2 "github.com/go-json-experiment/json"
	"slices"
	"strings"
	"time"

	"atrium"
	"atrium/resource"
)

// CreateResourceGroup inserts g, setting its id when empty and its
// timestamps. ECONFLICT on a taken id or name.
func (db *DB) CreateResourceGroup(ctx context.Context, g *atrium.ResourceGroup) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := createResourceGroup(ctx, tx, g); err != nil {
		return err
	}
	if err := tx.recordAudit(ctx, "", g.ID); err != nil {
		return err
	}
	return tx.Commit()
}

// FindResourceGroupByID returns ENOTFOUND if absent.
func (db *DB) FindResourceGroupByID(ctx context.Context, id string) (*atrium.ResourceGroup, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findResourceGroupByID(ctx, tx, id, false)
}

// FindResourceGroups lists all groups by name.
func (db *DB) FindResourceGroups(ctx context.Context) ([]*atrium.ResourceGroup, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return queryResourceGroups(ctx, tx, "1 = 1", "")
}

// UpdateResourceGroup returns ENOTFOUND if absent, ECONFLICT if the new name
// is taken.
func (db *DB) UpdateResourceGroup(ctx context.Context, id string, upd atrium.ResourceGroupUpdate) (*atrium.ResourceGroup, error) {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	g, err := updateResourceGroup(ctx, tx, id, upd)
	if err != nil {
		return nil, err
	}
	if err := tx.recordAudit(ctx, "", g.ID); err != nil {
		return nil, err
	}
	return g, tx.Commit()
}

// DeleteResourceGroup removes a group and its nodes (ON DELETE CASCADE);
// ENOTFOUND if absent, ECONFLICT while a quota draws on it.
func (db *DB) DeleteResourceGroup(ctx context.Context, id string) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := deleteResourceGroup(ctx, tx, id); err != nil {
		return err
	}
	if err := tx.recordAudit(ctx, "", id); err != nil {
		return err
	}
	return tx.Commit()
}

// PutNode creates or replaces the node n.Name in group n.GroupID, keeping
// CreatedAt on replace. ECONFLICT if the name is taken in another group,
// ENOTFOUND for an unknown group.
func (db *DB) PutNode(ctx context.Context, n *atrium.Node) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := putNode(ctx, tx, n); err != nil {
		return err
	}
	if err := tx.recordAudit(ctx, "", "node/"+n.Name); err != nil {
		return err
	}
	return tx.Commit()
}

// FindNodes lists nodes by name; groupID "" means all groups.
func (db *DB) FindNodes(ctx context.Context, groupID string) ([]*atrium.Node, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if groupID == "" {
		return queryNodes(ctx, tx, "1 = 1")
	}
	return queryNodes(ctx, tx, "group_id = ?", groupID)
}

// DeleteNode returns ENOTFOUND if the group has no such node.
func (db *DB) DeleteNode(ctx context.Context, groupID, name string) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.exec(ctx, "DELETE FROM nodes WHERE group_id = ? AND name = ?", groupID, name)
	if err != nil {
		return fmt.Errorf("delete node: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("delete node: %w", err)
	} else if n == 0 {
		return atrium.Errorf(atrium.ENOTFOUND, "node %q not found in resource group %q", name, groupID)
	}
	if err := tx.recordAudit(ctx, "", "node/"+name); err != nil {
		return err
	}
	return tx.Commit()
}

// CreateQuota inserts q (its id set when empty) after checking the whole
// tree with atrium.ValidateQuotaTree in the same transaction. EINVALID names
// the field; ECONFLICT on a taken id or name.
func (db *DB) CreateQuota(ctx context.Context, q *atrium.Quota) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := createQuota(ctx, tx, q); err != nil {
		return err
	}
	if err := tx.recordAudit(ctx, "", q.ID); err != nil {
		return err
	}
	return tx.Commit()
}

// FindQuotaByID returns ENOTFOUND if absent.
func (db *DB) FindQuotaByID(ctx context.Context, id string) (*atrium.Quota, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findQuotaByID(ctx, tx, id, false)
}

// FindQuotas lists quotas by name.
func (db *DB) FindQuotas(ctx context.Context, f atrium.QuotaFilter) ([]*atrium.Quota, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findQuotas(ctx, tx, f)
}

// UpdateQuota replaces q by q.ID, keeping CreatedAt, after checking the
// tree. ENOTFOUND if absent, EINVALID naming the field, ECONFLICT if the new
// name is taken.
func (db *DB) UpdateQuota(ctx context.Context, q *atrium.Quota) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := updateQuota(ctx, tx, q); err != nil {
		return err
	}
	if err := tx.recordAudit(ctx, "", q.ID); err != nil {
		return err
	}
	return tx.Commit()
}

// DeleteQuota removes a quota; ENOTFOUND if absent, ECONFLICT while it has
// children or bindings.
func (db *DB) DeleteQuota(ctx context.Context, id string) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := deleteQuota(ctx, tx, id); err != nil {
		return err
	}
	if err := tx.recordAudit(ctx, "", id); err != nil {
		return err
	}
	return tx.Commit()
}

// BindQuota binds a quota offered to the workspace. ENOTFOUND for an unknown
// workspace or quota, EINVALID (quotaId) if not offered, ECONFLICT if
// already bound.
func (db *DB) BindQuota(ctx context.Context, workspaceID, quotaID string) (*atrium.QuotaBinding, error) {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	b, err := bindQuota(ctx, tx, workspaceID, quotaID)
	if err != nil {
		return nil, err
	}
	if err := tx.recordAudit(ctx, workspaceID, quotaID); err != nil {
		return nil, err
	}
	return b, tx.Commit()
}

// UnbindQuota returns ENOTFOUND if not bound.
func (db *DB) UnbindQuota(ctx context.Context, workspaceID, quotaID string) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.exec(ctx, "DELETE FROM quota_bindings WHERE workspace_id = ? AND quota_id = ?", workspaceID, quotaID)
	if err != nil {
		return fmt.Errorf("delete quota binding: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("delete quota binding: %w", err)
	} else if n == 0 {
		return atrium.Errorf(atrium.ENOTFOUND, "quota %q is not bound to workspace %q", quotaID, workspaceID)
	}
	if err := tx.recordAudit(ctx, workspaceID, quotaID); err != nil {
		return err
	}
	return tx.Commit()
}

// FindQuotaBindings lists a workspace's bindings, oldest first.
func (db *DB) FindQuotaBindings(ctx context.Context, workspaceID string) ([]*atrium.QuotaBinding, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findQuotaBindings(ctx, tx, workspaceID)
}

// FindWorkspaceConfig returns the stored config or, if none is stored,
// atrium.DefaultWorkspaceConfig. ENOTFOUND for an unknown workspace.
func (db *DB) FindWorkspaceConfig(ctx context.Context, workspaceID string) (*atrium.WorkspaceConfig, error) {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findWorkspaceConfig(ctx, tx, workspaceID)
}

// PutWorkspaceConfig replaces the config, setting UpdatedAt; ENOTFOUND for an
// unknown workspace. The values are not validated here.
func (db *DB) PutWorkspaceConfig(ctx context.Context, c *atrium.WorkspaceConfig) error {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := putWorkspaceConfig(ctx, tx, c); err != nil {
		return err
	}
	if err := tx.recordAudit(ctx, c.WorkspaceID, c.WorkspaceID); err != nil {
		return err
	}
	return tx.Commit()
}

// lockQuotaTree serializes, on PostgreSQL, the writes that check the quota
// tree or the groups it draws on, so two concurrent changes that are each
// valid cannot together break it. SQLite's single writer already does.
func lockQuotaTree(ctx context.Context, tx *txn) error {
	if tx.d.lockQuotas == "" {
		return nil
	}
	if _, err := tx.exec(ctx, tx.d.lockQuotas); err != nil {
		return fmt.Errorf("lock quotas: %w", err)
	}
	return nil
}

// Resource groups.

func createResourceGroup(ctx context.Context, tx *txn, g *atrium.ResourceGroup) error {
	if g.ID == "" {
		g.ID = atrium.NewID(atrium.PrefixResourceGroup)
	}
	g.CreatedAt, g.UpdatedAt = tx.now, tx.now
	_, err := tx.exec(ctx, `
		INSERT INTO resource_groups (id, name, backend, description, slurm_partition, default_unix_account, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		g.ID, g.Name, g.Backend, g.Description, g.Partition, g.DefaultUnixAccount, tx.d.timeArg(g.CreatedAt), tx.d.timeArg(g.UpdatedAt))
	if tx.d.uniqueViolation(err) {
		return atrium.Errorf(atrium.ECONFLICT, "resource group id %q or name %q is already taken", g.ID, g.Name)
	} else if err != nil {
		return fmt.Errorf("insert resource group: %w", err)
	}
	return nil
}

func findResourceGroupByID(ctx context.Context, tx *txn, id string, lock bool) (*atrium.ResourceGroup, error) {
	suffix := ""
	if lock {
		suffix = tx.d.forUpdate
	}
	gs, err := queryResourceGroups(ctx, tx, "id = ?", suffix, id)
	if err != nil {
		return nil, err
	} else if len(gs) == 0 {
		return nil, atrium.Errorf(atrium.ENOTFOUND, "resource group %q not found", id)
	}
	return gs[0], nil
}

// queryResourceGroups lists the groups matching cond by name; suffix may lock them.
func queryResourceGroups(ctx context.Context, tx *txn, cond, suffix string, args ...any) ([]*atrium.ResourceGroup, error) {
	rows, err := tx.query(ctx, `
		SELECT id, name, backend, description, slurm_partition, default_unix_account, created_at, updated_at
		FROM resource_groups WHERE `+cond+` ORDER BY name`+tx.d.collate+`, id`+suffix, args...)
	if err != nil {
		return nil, fmt.Errorf("find resource groups: %w", err)
	}
	defer rows.Close()
	gs := []*atrium.ResourceGroup{}
	for rows.Next() {
		var g atrium.ResourceGroup
		if err := rows.Scan(&g.ID, &g.Name, &g.Backend, &g.Description, &g.Partition, &g.DefaultUnixAccount,
			timeCol{&g.CreatedAt}, timeCol{&g.UpdatedAt}); err != nil {
			return nil, fmt.Errorf("scan resource group: %w", err)
		}
		gs = append(gs, &g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find resource groups: %w", err)
	}
	return gs, nil
}

func updateResourceGroup(ctx context.Context, tx *txn, id string, upd atrium.ResourceGroupUpdate) (*atrium.ResourceGroup, error) {
	g, err := findResourceGroupByID(ctx, tx, id, true)
	if err != nil {
		return nil, err
	}
	if v := upd.Name; v != nil {
		g.Name = *v
	}
	if v := upd.Description; v != nil {
		g.Description = *v
	}
	if v := upd.Partition; v != nil {
		g.Partition = *v
	}
	if v := upd.DefaultUnixAccount; v != nil {
		g.DefaultUnixAccount = *v
	}
	g.UpdatedAt = tx.now
	_, err = tx.exec(ctx, "UPDATE resource_groups SET name = ?, description = ?, slurm_partition = ?, default_unix_account = ?, updated_at = ? WHERE id = ?",
		g.Name, g.Description, g.Partition, g.DefaultUnixAccount, tx.d.timeArg(g.UpdatedAt), id)
	if tx.d.uniqueViolation(err) {
		return nil, atrium.Errorf(atrium.ECONFLICT, "resource group name %q is already taken", g.Name)
	} else if err != nil {
		return nil, fmt.Errorf("update resource group: %w", err)
	}
	return g, nil
}

func deleteResourceGroup(ctx context.Context, tx *txn, id string) error {
	if err := lockQuotaTree(ctx, tx); err != nil {
		return err
	}
	if _, err := findResourceGroupByID(ctx, tx, id, true); err != nil {
		return err
	}
	all, err := queryQuotas(ctx, tx, "1 = 1", "")
	if err != nil {
		return err
	}
	var users []string
	for _, q := range all {
		if slices.Contains(q.ResourceGroups, id) {
			users = append(users, q.Name)
		}
	}
	if len(users) > 0 {
		return atrium.Errorf(atrium.ECONFLICT, "resource group %q is still drawn on by quota(s) %s; change or delete them first",
			id, strings.Join(users, ", "))
	}
	if _, err := tx.exec(ctx, "DELETE FROM resource_groups WHERE id = ?", id); err != nil {
		return fmt.Errorf("delete resource group: %w", err)
	}
	return nil
}

// Nodes.

func putNode(ctx context.Context, tx *txn, n *atrium.Node) error {
	if n.Name == "" {
		return atrium.FieldErrorf("name", "is required")
	}
	// Locking the group keeps it from being deleted before the node lands.
	if _, err := findResourceGroupByID(ctx, tx, n.GroupID, true); err != nil {
		return err
	}
	if n.State == "" {
		n.State = atrium.NodeReady
	}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	labels, err := json.Marshal(n.Labels)
	if err != nil {
		return fmt.Errorf("encode node labels: %w", err)
	}

	var group string
	var created time.Time
	err = tx.queryRow(ctx, "SELECT group_id, created_at FROM nodes WHERE name = ?"+tx.d.forUpdate, n.Name).
		Scan(&group, timeCol{&created})
	switch {
	case isNoRows(err):
		n.CreatedAt, n.UpdatedAt = tx.now, tx.now
		_, err := tx.exec(ctx, `
			INSERT INTO nodes (name, group_id, gpu_type, milli_cpu, memory, gpu, labels, state, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			n.Name, n.GroupID, n.GPUType, n.Capacity.MilliCPU, n.Capacity.Memory, n.Capacity.GPU,
			string(labels), n.State, tx.d.timeArg(n.CreatedAt), tx.d.timeArg(n.UpdatedAt))
		if tx.d.uniqueViolation(err) {
			return atrium.Errorf(atrium.ECONFLICT, "node name %q is already taken", n.Name)
		} else if err != nil {
			return fmt.Errorf("insert node: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("find node: %w", err)
	case group != n.GroupID:
		return atrium.Errorf(atrium.ECONFLICT, "node %q already belongs to resource group %q; node names are unique platform-wide", n.Name, group)
	}
	n.CreatedAt, n.UpdatedAt = created, tx.now
	if _, err := tx.exec(ctx, `
		UPDATE nodes SET gpu_type = ?, milli_cpu = ?, memory = ?, gpu = ?, labels = ?, state = ?, updated_at = ?
		WHERE name = ?`,
		n.GPUType, n.Capacity.MilliCPU, n.Capacity.Memory, n.Capacity.GPU, string(labels), n.State,
		tx.d.timeArg(n.UpdatedAt), n.Name); err != nil {
		return fmt.Errorf("update node: %w", err)
	}
	return nil
}

func queryNodes(ctx context.Context, tx *txn, cond string, args ...any) ([]*atrium.Node, error) {
	rows, err := tx.query(ctx, `
		SELECT name, group_id, gpu_type, milli_cpu, memory, gpu, labels, state, created_at, updated_at
		FROM nodes WHERE `+cond+` ORDER BY name`+tx.d.collate, args...)
	if err != nil {
		return nil, fmt.Errorf("find nodes: %w", err)
	}
	defer rows.Close()
	ns := []*atrium.Node{}
	for rows.Next() {
		var n atrium.Node
		if err := rows.Scan(&n.Name, &n.GroupID, &n.GPUType, &n.Capacity.MilliCPU, &n.Capacity.Memory, &n.Capacity.GPU,
			jsonCol{&n.Labels}, &n.State, timeCol{&n.CreatedAt}, timeCol{&n.UpdatedAt}); err != nil {
			return nil, fmt.Errorf("scan node: %w", err)
		}
		if n.Labels == nil {
			n.Labels = map[string]string{}
		}
		ns = append(ns, &n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find nodes: %w", err)
	}
	return ns, nil
}

// Quotas.

// normQuota gives q's lists their stored form: empty, never nil.
func normQuota(q *atrium.Quota) {
	if q.ResourceGroups == nil {
		q.ResourceGroups = []string{}
	}
	if q.OfferedTo == nil {
		q.OfferedTo = []string{}
	}
	if q.Min == nil {
		q.Min = resource.List{}
	}
	if q.Max == nil {
		q.Max = resource.List{}
	}
	if q.LendingLimit == nil {
		q.LendingLimit = resource.List{}
	}
}

// validateQuotaTree checks q against the tree as it stands in tx.
func validateQuotaTree(ctx context.Context, tx *txn, q *atrium.Quota, all []*atrium.Quota) error {
	groups, err := queryResourceGroups(ctx, tx, "1 = 1", "")
	if err != nil {
		return err
	}
	nodes, err := queryNodes(ctx, tx, "1 = 1")
	if err != nil {
		return err
	}
	return atrium.ValidateQuotaTree(q, all, groups, nodes)
}

func createQuota(ctx context.Context, tx *txn, q *atrium.Quota) error {
	if err := lockQuotaTree(ctx, tx); err != nil {
		return err
	}
	if q.ID == "" {
		q.ID = atrium.NewID(atrium.PrefixQuota)
	}
	normQuota(q)
	all, err := queryQuotas(ctx, tx, "1 = 1", "")
	if err != nil {
		return err
	}
	for _, o := range all {
		if o.ID == q.ID {
			return atrium.Errorf(atrium.ECONFLICT, "quota %q already exists", q.ID)
		} else if o.Name == q.Name {
			return atrium.Errorf(atrium.ECONFLICT, "quota name %q is already taken", q.Name)
		}
	}
	if err := validateQuotaTree(ctx, tx, q, all); err != nil {
		return err
	}
	q.CreatedAt, q.UpdatedAt = tx.now, tx.now
	args, err := quotaArgs(tx, q)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, "INSERT INTO quotas ("+quotaColumns+") VALUES ("+placeholders(16)+")", args...)
	if tx.d.uniqueViolation(err) {
		return atrium.Errorf(atrium.ECONFLICT, "quota id %q or name %q is already taken", q.ID, q.Name)
	} else if err != nil {
		return fmt.Errorf("insert quota: %w", err)
	}
	return nil
}

func updateQuota(ctx context.Context, tx *txn, q *atrium.Quota) error {
	if err := lockQuotaTree(ctx, tx); err != nil {
		return err
	}
	normQuota(q)
	all, err := queryQuotas(ctx, tx, "1 = 1", "")
	if err != nil {
		return err
	}
	var old *atrium.Quota
	for _, o := range all {
		if o.ID == q.ID {
			old = o
		} else if o.Name == q.Name {
			return atrium.Errorf(atrium.ECONFLICT, "quota name %q is already taken", q.Name)
		}
	}
	if old == nil {
		return atrium.Errorf(atrium.ENOTFOUND, "quota %q not found", q.ID)
	}
	if err := validateQuotaTree(ctx, tx, q, all); err != nil {
		return err
	}
	q.CreatedAt, q.UpdatedAt = old.CreatedAt, tx.now
	args, err := quotaArgs(tx, q)
	if err != nil {
		return err
	}
	// args start with the id; it goes last, in the WHERE clause.
	_, err = tx.exec(ctx, `
		UPDATE quotas SET name = ?, description = ?, parent_id = ?, resource_groups = ?,
			min_resources = ?, max_resources = ?, lending_limit = ?, queue_strategy = ?,
			preemptor_priority = ?, preempted_priority = ?, min_runtime = ?, offered_to_all = ?,
			offered_to = ?, created_at = ?, updated_at = ?
		WHERE id = ?`, append(args[1:], q.ID)...)
	if tx.d.uniqueViolation(err) {
		return atrium.Errorf(atrium.ECONFLICT, "quota name %q is already taken", q.Name)
	} else if err != nil {
		return fmt.Errorf("update quota: %w", err)
	}
	return nil
}

func deleteQuota(ctx context.Context, tx *txn, id string) error {
	if err := lockQuotaTree(ctx, tx); err != nil {
		return err
	}
	if _, err := findQuotaByID(ctx, tx, id, true); err != nil {
		return err
	}
	if n, err := countJobs(ctx, tx, unfinishedStatuses, "quota_id = ?", id); err != nil {
		return err
	} else if n > 0 {
		return atrium.Errorf(atrium.ECONFLICT, "quota %s has %d unfinished jobs; they must end before it is deleted", id, n)
	}
	kids, err := queryQuotas(ctx, tx, "parent_id = ?", "", id)
	if err != nil {
		return err
	}
	if len(kids) > 0 {
		names := make([]string, len(kids))
		for i, k := range kids {
			names[i] = k.Name
		}
		return atrium.Errorf(atrium.ECONFLICT, "quota %q still has child quota(s) %s; delete or move them first",
			id, strings.Join(names, ", "))
	}
	n, err := tx.count(ctx, "SELECT count(*) FROM quota_bindings WHERE quota_id = ?", id)
	if err != nil {
		return fmt.Errorf("count quota bindings: %w", err)
	} else if n > 0 {
		return atrium.Errorf(atrium.ECONFLICT, "quota %q is still bound to %d workspace(s); unbind it first", id, n)
	}
	if _, err := tx.exec(ctx, "DELETE FROM quotas WHERE id = ?", id); err != nil {
		return fmt.Errorf("delete quota: %w", err)
	}
	return nil
}

const quotaColumns = `id, name, description, parent_id, resource_groups, min_resources, max_resources,
	lending_limit, queue_strategy, preemptor_priority, preempted_priority, min_runtime, offered_to_all,
	offered_to, created_at, updated_at`

// quotaArgs returns q's column values in quotaColumns order.
func quotaArgs(tx *txn, q *atrium.Quota) ([]any, error) {
	lists := make([]string, 3)
	for i, l := range []resource.List{q.Min, q.Max, q.LendingLimit} {
		s, err := resourceListArg(l)
		if err != nil {
			return nil, err
		}
		lists[i] = s
	}
	return []any{
		q.ID, q.Name, q.Description, q.ParentID, listArg(q.ResourceGroups), lists[0], lists[1],
		lists[2], q.QueueStrategy, q.PreemptorPriority, q.PreemptedPriority, int64(q.MinRuntime), q.OfferedToAll,
		listArg(q.OfferedTo), tx.d.timeArg(q.CreatedAt), tx.d.timeArg(q.UpdatedAt),
	}, nil
}

func findQuotaByID(ctx context.Context, tx *txn, id string, lock bool) (*atrium.Quota, error) {
	suffix := ""
	if lock {
		suffix = tx.d.forUpdate
	}
	qs, err := queryQuotas(ctx, tx, "id = ?", suffix, id)
	if err != nil {
		return nil, err
	} else if len(qs) == 0 {
		return nil, atrium.Errorf(atrium.ENOTFOUND, "quota %q not found", id)
	}
	return qs[0], nil
}

func findQuotas(ctx context.Context, tx *txn, f atrium.QuotaFilter) ([]*atrium.Quota, error) {
	where, args := []string{"1 = 1"}, []any{}
	if f.ParentID != nil {
		where, args = append(where, "parent_id = ?"), append(args, *f.ParentID)
	}
	if f.UsableBy != "" {
		where = append(where, "(offered_to_all = ? OR EXISTS (SELECT 1 FROM quota_bindings b WHERE b.quota_id = quotas.id AND b.workspace_id = ?))")
		args = append(args, true, f.UsableBy)
	}
	qs, err := queryQuotas(ctx, tx, strings.Join(where, " AND "), "", args...)
	if err != nil {
		return nil, err
	}
	if f.OfferedTo != "" {
		// offered_to is JSON text; the quota tree is small, so filter here.
		qs = slices.DeleteFunc(qs, func(q *atrium.Quota) bool { return !q.Offered(f.OfferedTo) })
	}
	return qs, nil
}

// queryQuotas lists the quotas matching cond by name; suffix may lock them.
func queryQuotas(ctx context.Context, tx *txn, cond, suffix string, args ...any) ([]*atrium.Quota, error) {
	rows, err := tx.query(ctx, "SELECT "+quotaColumns+" FROM quotas WHERE "+cond+
		" ORDER BY name"+tx.d.collate+", id"+suffix, args...)
	if err != nil {
		return nil, fmt.Errorf("find quotas: %w", err)
	}
	defer rows.Close()
	qs := []*atrium.Quota{}
	for rows.Next() {
		var q atrium.Quota
		var minRuntime int64
		if err := rows.Scan(&q.ID, &q.Name, &q.Description, &q.ParentID, listCol{&q.ResourceGroups},
			resourceListCol{&q.Min}, resourceListCol{&q.Max}, resourceListCol{&q.LendingLimit},
			&q.QueueStrategy, &q.PreemptorPriority, &q.PreemptedPriority, &minRuntime, &q.OfferedToAll,
			listCol{&q.OfferedTo}, timeCol{&q.CreatedAt}, timeCol{&q.UpdatedAt}); err != nil {
			return nil, fmt.Errorf("scan quota: %w", err)
		}
		q.MinRuntime = atrium.Duration(minRuntime)
		qs = append(qs, &q)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find quotas: %w", err)
	}
	return qs, nil
}

// Bindings.

func bindQuota(ctx context.Context, tx *txn, workspaceID, quotaID string) (*atrium.QuotaBinding, error) {
	if _, err := lockWorkspace(ctx, tx, workspaceID); err != nil {
		return nil, err
	}
	// Locking the quota row orders this against DeleteQuota and UpdateQuota.
	q, err := findQuotaByID(ctx, tx, quotaID, true)
	if err != nil {
		return nil, err
	}
	if !q.Offered(workspaceID) {
		return nil, atrium.FieldErrorf("quotaId", "quota %q is not offered to workspace %q", quotaID, workspaceID)
	}
	n, err := tx.count(ctx, "SELECT count(*) FROM quota_bindings WHERE workspace_id = ? AND quota_id = ?", workspaceID, quotaID)
	if err != nil {
		return nil, fmt.Errorf("find quota binding: %w", err)
	} else if n > 0 {
		return nil, atrium.Errorf(atrium.ECONFLICT, "quota %q is already bound to workspace %q", quotaID, workspaceID)
	}
	b := &atrium.QuotaBinding{WorkspaceID: workspaceID, QuotaID: quotaID, CreatedAt: tx.now}
	_, err = tx.exec(ctx, "INSERT INTO quota_bindings (workspace_id, quota_id, created_at) VALUES (?, ?, ?)",
		b.WorkspaceID, b.QuotaID, tx.d.timeArg(b.CreatedAt))
	if tx.d.uniqueViolation(err) {
		return nil, atrium.Errorf(atrium.ECONFLICT, "quota %q is already bound to workspace %q", quotaID, workspaceID)
	} else if err != nil {
		return nil, fmt.Errorf("insert quota binding: %w", err)
	}
	return b, nil
}

func findQuotaBindings(ctx context.Context, tx *txn, workspaceID string) ([]*atrium.QuotaBinding, error) {
	rows, err := tx.query(ctx, `
		SELECT workspace_id, quota_id, created_at FROM quota_bindings
		WHERE workspace_id = ? ORDER BY created_at, quota_id`, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("find quota bindings: %w", err)
	}
	defer rows.Close()
	bs := []*atrium.QuotaBinding{}
	for rows.Next() {
		var b atrium.QuotaBinding
		if err := rows.Scan(&b.WorkspaceID, &b.QuotaID, timeCol{&b.CreatedAt}); err != nil {
			return nil, fmt.Errorf("scan quota binding: %w", err)
		}
		bs = append(bs, &b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find quota bindings: %w", err)
	}
	return bs, nil
}

// Workspace configs.

// storedConfig is the stored JSON form of a WorkspaceConfig's settings;
// durations are nanoseconds.
type storedConfig struct {
	DefaultPriority         map[string]int   `json:"defaultPriority"`
	MaxPriority             map[string]int   `json:"maxPriority"`
	MaxRunningTime          map[string]int64 `json:"maxRunningTimeNs"`
	QueueTimeout            int64            `json:"queueTimeoutNs"`
	DefaultQuotaID          string           `json:"defaultQuotaId"`
	RequireSeparateApprover bool             `json:"requireSeparateApprover"`
}

func findWorkspaceConfig(ctx context.Context, tx *txn, workspaceID string) (*atrium.WorkspaceConfig, error) {
	if _, err := findWorkspaceByID(ctx, tx, workspaceID); err != nil {
		return nil, err
	}
	var sc storedConfig
	c := &atrium.WorkspaceConfig{WorkspaceID: workspaceID}
	err := tx.queryRow(ctx, "SELECT config, updated_at FROM workspace_configs WHERE workspace_id = ?", workspaceID).
		Scan(jsonCol{&sc}, timeCol{&c.UpdatedAt})
	if isNoRows(err) {
		return atrium.DefaultWorkspaceConfig(workspaceID), nil
	} else if err != nil {
		return nil, fmt.Errorf("find workspace config: %w", err)
	}
	c.DefaultPriority, c.MaxPriority = sc.DefaultPriority, sc.MaxPriority
	c.MaxRunningTime = make(map[string]atrium.Duration, len(sc.MaxRunningTime))
	for k, v := range sc.MaxRunningTime {
		c.MaxRunningTime[k] = atrium.Duration(v)
	}
	c.QueueTimeout = atrium.Duration(sc.QueueTimeout)
	c.DefaultQuotaID, c.RequireSeparateApprover = sc.DefaultQuotaID, sc.RequireSeparateApprover
	normConfig(c)
	return c, nil
}

// normConfig gives c's maps their stored form: empty, never nil.
func normConfig(c *atrium.WorkspaceConfig) {
	if c.DefaultPriority == nil {
		c.DefaultPriority = map[string]int{}
	}
	if c.MaxPriority == nil {
		c.MaxPriority = map[string]int{}
	}
	if c.MaxRunningTime == nil {
		c.MaxRunningTime = map[string]atrium.Duration{}
	}
}

func putWorkspaceConfig(ctx context.Context, tx *txn, c *atrium.WorkspaceConfig) error {
	if _, err := lockWorkspace(ctx, tx, c.WorkspaceID); err != nil {
		return err
	}
	normConfig(c)
	sc := storedConfig{
		DefaultPriority:         c.DefaultPriority,
		MaxPriority:             c.MaxPriority,
		MaxRunningTime:          make(map[string]int64, len(c.MaxRunningTime)),
		QueueTimeout:            int64(c.QueueTimeout),
		DefaultQuotaID:          c.DefaultQuotaID,
		RequireSeparateApprover: c.RequireSeparateApprover,
	}
	for k, v := range c.MaxRunningTime {
		sc.MaxRunningTime[k] = int64(v)
	}
	b, err := json.Marshal(sc)
	if err != nil {
		return fmt.Errorf("encode workspace config: %w", err)
	}
	c.UpdatedAt = tx.now
	if _, err := tx.exec(ctx, `
		INSERT INTO workspace_configs (workspace_id, config, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (workspace_id) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at`,
		c.WorkspaceID, string(b), tx.d.timeArg(c.UpdatedAt)); err != nil {
		return fmt.Errorf("put workspace config: %w", err)
	}
	return nil
}

// JSON columns.

// storedVector is the stored form of a resource.Vector: plain integers, so
// every value round-trips exactly (the API form renders quantities).
type storedVector struct {
	MilliCPU int64 `json:"milliCpu"`
	Memory   int64 `json:"memory"`
	GPU      int64 `json:"gpu"`
}

// resourceListArg encodes a resource list as JSON text keyed by gpuType.
func resourceListArg(l resource.List) (string, error) {
	m := make(map[string]storedVector, len(l))
	for t, v := range l {
		m[t] = storedVector{v.MilliCPU, v.Memory, v.GPU}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode resource list: %w", err)
	}
	return string(b), nil
}

// resourceListCol scans what resourceListArg writes, never nil.
type resourceListCol struct{ l *resource.List }

func (c resourceListCol) Scan(src any) error {
	var m map[string]storedVector
	if err := (jsonCol{&m}).Scan(src); err != nil {
		return err
	}
	out := make(resource.List, len(m))
	for t, v := range m {
		out[t] = resource.Vector{MilliCPU: v.MilliCPU, Memory: v.Memory, GPU: v.GPU}
	}
	*c.l = out
	return nil
}

// jsonCol scans JSON text into v; NULL leaves v unchanged.
type jsonCol struct{ v any }

func (c jsonCol) Scan(src any) error {
	b, null, err := textBytes(src, "JSON")
	if err != nil || null {
		return err
	}
	// The JSON v2 decoder (the future encoding/json/v2) decodes two to
	// three times faster; listing jobs is mostly this. The columns hold what
	// encoding/json wrote, which v2 reads the same.
	if err := jsonv2.Unmarshal(b, c.v); err != nil {
		return fmt.Errorf("decode JSON column: %w", err)
	}
	return nil
}
