package httpapi

// Compute: resource groups and their nodes, the quota tree with usage,
// quota bindings and the workspace scheduling config.
//
// Resources travel as resource.Spec ({cpu, memory, gpu, gpuType}) so that a
// bad quantity is a 400 naming the field (max[1].memory); durations travel
// as Go duration strings ("24h") for the same reason. Every handler checks
// all of its input before the first write, and the quota tree is checked by
// the store in the transaction that writes it.

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"atrium"
	"atrium/cluster"
	"atrium/resource"
	"atrium/scheduler"
)

// --- Resource groups and nodes ---

// CreateResourceGroupRequest registers a resource group. Its id is "rg-"
// followed by the name.
type CreateResourceGroupRequest struct {
	Name        string `json:"name"`
	Backend     string `json:"backend"`
	Description string `json:"description,omitempty"`
	// Partition is the Slurm partition jobs go to (slurm groups only).
	Partition string `json:"partition,omitempty"`
	// DefaultUnixAccount is the Unix account the jobs of a slurm group run
	// as when no workspace or user mapping names one; never root. Without
	// it, such jobs are refused.
	DefaultUnixAccount string `json:"defaultUnixAccount,omitempty"`
}

// UpdateResourceGroupRequest changes a resource group; absent fields stay.
// The backend is fixed at creation.
type UpdateResourceGroupRequest struct {
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
	Partition   *string `json:"partition,omitempty"`
	Backend     *string `json:"backend,omitempty"`
	// DefaultUnixAccount: "" removes the default (slurm groups only).
	DefaultUnixAccount *string `json:"defaultUnixAccount,omitempty"`
}

// ResourceGroupView is a resource group with its total capacity per gpuType
// and, when read on its own, its nodes.
type ResourceGroupView struct {
	atrium.ResourceGroup
	NodeCount int `json:"nodeCount"`
	// Capacity sums the nodes per gpuType, whatever their state;
	// ReadyCapacity only the Ready nodes, which take new work.
	Capacity      []resource.Spec `json:"capacity"`
	ReadyCapacity []resource.Spec `json:"readyCapacity"`
	Nodes         []*NodeView     `json:"nodes,omitempty"`
}

// PutNodeRequest creates or replaces a node of a resource group.
type PutNodeRequest struct {
	// Capacity is the node's allocatable {cpu, memory, gpu, gpuType}.
	Capacity resource.Spec     `json:"capacity"`
	Labels   map[string]string `json:"labels,omitempty"`
	// State is Ready (default), NotReady or Draining.
	State string `json:"state,omitempty"`
}

// NodeView is a node as the API shows it.
type NodeView struct {
	Name            string            `json:"name"`
	ResourceGroupID string            `json:"resourceGroupId"`
	Capacity        resource.Spec     `json:"capacity"`
	Labels          map[string]string `json:"labels"`
	State           string            `json:"state"`
	CreatedAt       time.Time         `json:"createdAt"`
	UpdatedAt       time.Time         `json:"updatedAt"`
}

func newNodeView(n *atrium.Node) *NodeView {
	labels := n.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return &NodeView{Name: n.Name, ResourceGroupID: n.GroupID, Capacity: resource.SpecOf(n.Capacity, n.GPUType),
		Labels: labels, State: n.State, CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt}
}

func newResourceGroupView(g *atrium.ResourceGroup, nodes []*atrium.Node, withNodes bool) *ResourceGroupView {
	v := &ResourceGroupView{ResourceGroup: *g}
	total, ready := resource.List{}, resource.List{}
	for _, n := range nodes {
		if n.GroupID != g.ID {
			continue
		}
		v.NodeCount++
		total[n.GPUType] = total[n.GPUType].Add(n.Capacity)
		if n.State == atrium.NodeReady {
			ready[n.GPUType] = ready[n.GPUType].Add(n.Capacity)
		}
		if withNodes {
			v.Nodes = append(v.Nodes, newNodeView(n))
		}
	}
	v.Capacity, v.ReadyCapacity = total.Specs(), ready.Specs()
	if withNodes && v.Nodes == nil {
		v.Nodes = []*NodeView{}
	}
	return v
}

var partitionRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

func validateBackend(b string) error {
	switch b {
	case atrium.BackendLocal, atrium.BackendSlurm, atrium.BackendKubernetes:
		return nil
	case "":
		return atrium.FieldErrorf("backend", "is required: local, slurm or kubernetes")
	}
	return atrium.FieldErrorf("backend", "must be local, slurm or kubernetes, not %q", b)
}

func validatePartition(backend, p string) error {
	if p == "" {
		return nil
	}
	if backend != atrium.BackendSlurm {
		return atrium.FieldErrorf("partition", "only a slurm resource group has a partition")
	}
	if !partitionRE.MatchString(p) {
		return atrium.FieldErrorf("partition", "must be 1–64 letters, digits, '_', '.' or '-'")
	}
	return nil
}

func createResourceGroup(c *call) (any, error) {
	var req CreateResourceGroupRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	if err := atrium.ValidateComputeName("name", req.Name); err != nil {
		return nil, err
	}
	if err := validateBackend(req.Backend); err != nil {
		return nil, err
	}
	if err := atrium.ValidateDescription(req.Description); err != nil {
		return nil, err
	}
	if err := validatePartition(req.Backend, req.Partition); err != nil {
		return nil, err
	}
	if req.DefaultUnixAccount != "" {
		if err := c.validateDefaultAccount(req.Backend, req.DefaultUnixAccount); err != nil {
			return nil, err
		}
	}
	g := &atrium.ResourceGroup{ID: atrium.PrefixResourceGroup + req.Name, Name: req.Name, Backend: req.Backend,
		Description: req.Description, Partition: req.Partition, DefaultUnixAccount: req.DefaultUnixAccount}
	if err := c.s.Store.CreateResourceGroup(c.ctx(), g); err != nil {
		return nil, err
	}
	return newResourceGroupView(g, nil, true), nil
}

func listResourceGroups(c *call) (any, error) {
	groups, err := c.s.Store.FindResourceGroups(c.ctx())
	if err != nil {
		return nil, err
	}
	nodes, err := c.s.Store.FindNodes(c.ctx(), "")
	if err != nil {
		return nil, err
	}
	out := make([]*ResourceGroupView, len(groups))
	for i, g := range groups {
		out[i] = newResourceGroupView(g, nodes, false)
	}
	return newList(out, len(out), page{}), nil
}

func (c *call) resourceGroupView(id string) (*ResourceGroupView, error) {
	g, err := c.s.Store.FindResourceGroupByID(c.ctx(), id)
	if err != nil {
		return nil, err
	}
	nodes, err := c.s.Store.FindNodes(c.ctx(), g.ID)
	if err != nil {
		return nil, err
	}
	return newResourceGroupView(g, nodes, true), nil
}

func getResourceGroup(c *call) (any, error) {
	return c.resourceGroupView(c.r.PathValue("resourceGroupId"))
}

func updateResourceGroup(c *call) (any, error) {
	var req UpdateResourceGroupRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	id := c.r.PathValue("resourceGroupId")
	cur, err := c.s.Store.FindResourceGroupByID(c.ctx(), id)
	if err != nil {
		return nil, err
	}
	if req.Backend != nil && *req.Backend != cur.Backend {
		return nil, atrium.FieldErrorf("backend", "is fixed at creation (%s); create another resource group instead", cur.Backend)
	}
	if req.Name != nil {
		if err := atrium.ValidateComputeName("name", *req.Name); err != nil {
			return nil, err
		}
	}
	if req.Description != nil {
		if err := atrium.ValidateDescription(*req.Description); err != nil {
			return nil, err
		}
	}
	if req.Partition != nil {
		if err := validatePartition(cur.Backend, *req.Partition); err != nil {
			return nil, err
		}
	}
	if req.DefaultUnixAccount != nil {
		if err := c.validateDefaultAccount(cur.Backend, *req.DefaultUnixAccount); err != nil {
			return nil, err
		}
	}
	if _, err := c.s.Store.UpdateResourceGroup(c.ctx(), id, atrium.ResourceGroupUpdate{Name: req.Name, Description: req.Description,
		Partition: req.Partition, DefaultUnixAccount: req.DefaultUnixAccount}); err != nil {
		return nil, err
	}
	return c.resourceGroupView(id)
}

func deleteResourceGroup(c *call) (any, error) {
	return nil, c.s.Store.DeleteResourceGroup(c.ctx(), c.r.PathValue("resourceGroupId"))
}

func listNodes(c *call) (any, error) {
	v, err := c.resourceGroupView(c.r.PathValue("resourceGroupId"))
	if err != nil {
		return nil, err
	}
	return newList(v.Nodes, len(v.Nodes), page{}), nil
}

var labelKeyRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._/-]{0,62})$`)

// validateLabels checks node labels: at most 64, keys like Kubernetes label
// keys, values up to 256 characters.
func validateLabels(labels map[string]string) error {
	if len(labels) > 64 {
		return atrium.FieldErrorf("labels", "must hold at most 64 labels")
	}
	for _, k := range sortedKeys(labels) {
		if !labelKeyRE.MatchString(k) {
			return atrium.FieldErrorf("labels."+k, "a label key is 1–63 letters, digits, '.', '_', '-' or '/', starting with a letter or digit")
		}
		if len(labels[k]) > 256 {
			return atrium.FieldErrorf("labels."+k, "a label value is at most 256 characters")
		}
	}
	return nil
}

func putNode(c *call) (any, error) {
	var req PutNodeRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	name := c.r.PathValue("nodeName")
	if err := atrium.ValidateComputeName("nodeName", name); err != nil {
		return nil, err
	}
	capacity, err := req.Capacity.Vector("capacity")
	if err != nil {
		return nil, err
	}
	if capacity.MilliCPU <= 0 {
		return nil, atrium.FieldErrorf("capacity.cpu", "is required and must be above 0")
	}
	if capacity.Memory <= 0 {
		return nil, atrium.FieldErrorf("capacity.memory", "is required and must be above 0")
	}
	if err := validateLabels(req.Labels); err != nil {
		return nil, err
	}
	state := cmp.Or(req.State, atrium.NodeReady)
	switch state {
	case atrium.NodeReady, atrium.NodeNotReady, atrium.NodeDraining:
	default:
		return nil, atrium.FieldErrorf("state", "must be Ready, NotReady or Draining, not %q", req.State)
	}
	n := &atrium.Node{Name: name, GroupID: c.r.PathValue("resourceGroupId"), GPUType: req.Capacity.GPUType,
		Capacity: capacity, Labels: req.Labels, State: state}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	if err := c.s.Store.PutNode(c.ctx(), n); err != nil {
		return nil, err
	}
	return newNodeView(n), nil
}

func deleteNode(c *call) (any, error) {
	return nil, c.s.Store.DeleteNode(c.ctx(), c.r.PathValue("resourceGroupId"), c.r.PathValue("nodeName"))
}

// --- Quotas ---

// QuotaRequest creates a quota (POST) or replaces its changeable fields
// (PUT: absent fields take their defaults, as on creation). A root quota
// names resourceGroupIds; a child names parentId. Its id is "quota-"
// followed by the name at creation.
type QuotaRequest struct {
	Name             string   `json:"name"`
	Description      string   `json:"description,omitempty"`
	ParentID         string   `json:"parentId,omitempty"`
	ResourceGroupIDs []string `json:"resourceGroupIds,omitempty"`
	// Min (guaranteed), Max (cap) and LendingLimit, one entry per gpuType.
	Min          []resource.Spec `json:"min,omitempty"`
	Max          []resource.Spec `json:"max,omitempty"`
	LendingLimit []resource.Spec `json:"lendingLimit,omitempty"`
	// QueueStrategy is StrictFIFO, RoundRobin (default) or Intelligent.
	QueueStrategy     string `json:"queueStrategy,omitempty"`
	PreemptorPriority int    `json:"preemptorPriority,omitempty"`
	PreemptedPriority int    `json:"preemptedPriority,omitempty"`
	// MinRuntime is a duration such as "10m"; jobs younger than it are not preempted.
	MinRuntime   string   `json:"minRuntime,omitempty"`
	OfferedToAll bool     `json:"offeredToAll,omitempty"`
	OfferedTo    []string `json:"offeredTo,omitempty"`
}

// QuotaView is a quota with its usage per gpuType and, with layout=tree,
// its children.
type QuotaView struct {
	ID                string          `json:"quotaId"`
	Name              string          `json:"name"`
	Description       string          `json:"description"`
	ParentID          string          `json:"parentId,omitempty"`
	ResourceGroupIDs  []string        `json:"resourceGroupIds,omitempty"`
	Min               []resource.Spec `json:"min"`
	Max               []resource.Spec `json:"max"`
	LendingLimit      []resource.Spec `json:"lendingLimit,omitempty"`
	QueueStrategy     string          `json:"queueStrategy"`
	PreemptorPriority int             `json:"preemptorPriority"`
	PreemptedPriority int             `json:"preemptedPriority"`
	MinRuntime        string          `json:"minRuntime"`
	OfferedToAll      bool            `json:"offeredToAll"`
	// OfferedTo lists workspace ids; shown to ResourceAdmins only.
	OfferedTo []string  `json:"offeredTo,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// Usage has one entry per gpuType the quota or its subtree mentions.
	Usage []QuotaUsage `json:"usage"`
	// Bound is set on workspace listings: whether the workspace has bound
	// the quota (false for a quota it uses because it is offered to all).
	Bound *bool `json:"bound,omitempty"`
	// Children is set with layout=tree.
	Children []*QuotaView `json:"children,omitempty"`
}

// QuotaUsage is a quota's usage of one gpuType ("" is CPU-only capacity),
// covering its whole subtree: min and max as configured (max absent: no
// cap but the parent's and the nodes'), allocated to running work, used
// (measured, else as allocated), requested by queued work, borrowed beyond
// its min, lent to siblings out of its unused min, and available: what one
// more workload could get now.
type QuotaUsage struct {
	GPUType   string       `json:"gpuType"`
	Min       UsageVector  `json:"min"`
	Max       *UsageVector `json:"max,omitempty"`
	Allocated UsageVector  `json:"allocated"`
	Used      UsageVector  `json:"used"`
	Requested UsageVector  `json:"requested"`
	Borrowed  UsageVector  `json:"borrowed"`
	Lent      UsageVector  `json:"lent"`
	Available UsageVector  `json:"available"`
}

// UsageVector is an amount of {cpu, memory, gpu} in quantity notation.
type UsageVector struct {
	CPU    string `json:"cpu"`
	Memory string `json:"memory"`
	GPU    int64  `json:"gpu"`
}

func usageVector(v resource.Vector) UsageVector {
	return UsageVector{CPU: resource.FormatCPU(v.MilliCPU), Memory: resource.FormatMemory(v.Memory), GPU: v.GPU}
}

// Vector parses u back (the client side of the API).
func (u UsageVector) Vector() resource.Vector {
	cpu, _ := resource.ParseCPU(u.CPU)
	mem, _ := resource.ParseMemory(u.Memory)
	return resource.Vector{MilliCPU: cpu, Memory: mem, GPU: u.GPU}
}

func parseDuration(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, atrium.FieldErrorf(field, "%q is not a duration such as 90s, 30m or 24h", s)
	}
	if d < 0 {
		return 0, atrium.FieldErrorf(field, "must not be negative")
	}
	return d, nil
}

// quota checks req and turns it into a quota (the tree is checked by the store).
func (c *call) quota(req *QuotaRequest) (*atrium.Quota, error) {
	if err := atrium.ValidateComputeName("name", req.Name); err != nil {
		return nil, err
	}
	q := &atrium.Quota{Name: req.Name, Description: req.Description, ParentID: req.ParentID,
		ResourceGroups: req.ResourceGroupIDs, QueueStrategy: cmp.Or(req.QueueStrategy, atrium.RoundRobin),
		PreemptorPriority: req.PreemptorPriority, PreemptedPriority: req.PreemptedPriority,
		OfferedToAll: req.OfferedToAll, OfferedTo: req.OfferedTo}
	var err error
	if q.Min, err = resource.ParseList("min", req.Min); err != nil {
		return nil, err
	}
	if q.Max, err = resource.ParseList("max", req.Max); err != nil {
		return nil, err
	}
	if q.LendingLimit, err = resource.ParseList("lendingLimit", req.LendingLimit); err != nil {
		return nil, err
	}
	d, err := parseDuration("minRuntime", req.MinRuntime)
	if err != nil {
		return nil, err
	}
	q.MinRuntime = atrium.Duration(d)
	if q.ResourceGroups == nil {
		q.ResourceGroups = []string{}
	}
	if q.OfferedTo == nil {
		q.OfferedTo = []string{}
	}
	if err := atrium.ValidateQuota(q); err != nil {
		return nil, err
	}
	if q.OfferedToAll && len(q.OfferedTo) > 0 {
		return nil, atrium.FieldErrorf("offeredTo", "must be empty when offeredToAll is true")
	}
	seen := map[string]bool{}
	for i, ws := range q.OfferedTo {
		field := fmt.Sprintf("offeredTo[%d]", i)
		if seen[ws] {
			return nil, atrium.FieldErrorf(field, "%q is listed twice", ws)
		}
		seen[ws] = true
		if _, err := c.s.Store.FindWorkspaceByID(c.ctx(), ws); atrium.ErrorCode(err) == atrium.ENOTFOUND {
			return nil, atrium.FieldErrorf(field, "workspace %q not found", ws)
		} else if err != nil {
			return nil, err
		}
	}
	return q, nil
}

func createQuota(c *call) (any, error) {
	var req QuotaRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	q, err := c.quota(&req)
	if err != nil {
		return nil, err
	}
	q.ID = atrium.PrefixQuota + q.Name
	if err := c.s.Store.CreateQuota(c.ctx(), q); err != nil {
		return nil, err
	}
	return c.quotaView(q.ID, false)
}

func updateQuota(c *call) (any, error) {
	var req QuotaRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	id := c.r.PathValue("quotaId")
	if _, err := c.s.Store.FindQuotaByID(c.ctx(), id); err != nil {
		return nil, err
	}
	q, err := c.quota(&req)
	if err != nil {
		return nil, err
	}
	q.ID = id
	if err := c.s.Store.UpdateQuota(c.ctx(), q); err != nil {
		return nil, err
	}
	return c.quotaView(id, false)
}

func deleteQuota(c *call) (any, error) {
	return nil, c.s.Store.DeleteQuota(c.ctx(), c.r.PathValue("quotaId"))
}

// layoutTree reads ?layout=flat|tree.
func (c *call) layoutTree() (bool, error) {
	l, err := oneOf(c.r.URL.Query(), "layout", "flat", "tree")
	return l == "tree", err
}

func listQuotas(c *call) (any, error) {
	tree, err := c.layoutTree()
	if err != nil {
		return nil, err
	}
	q := c.r.URL.Query()
	usage, err := c.s.quotaUsage(c.ctx())
	if err != nil {
		return nil, err
	}
	var out []*QuotaView
	for _, qt := range usage.quotas {
		switch {
		case q.Has("parentId") && qt.ParentID != q.Get("parentId"):
		case tree && qt.ParentID != "" && !q.Has("parentId"):
		case q.Has("offeredTo") && !qt.Offered(q.Get("offeredTo")):
		default:
			out = append(out, usage.view(qt, tree, true))
		}
	}
	return newList(out, len(out), page{}), nil
}

// quotaView reads one quota with its usage (and subtree with tree).
func (c *call) quotaView(id string, tree bool) (*QuotaView, error) {
	usage, err := c.s.quotaUsage(c.ctx())
	if err != nil {
		return nil, err
	}
	q := usage.byID[id]
	if q == nil {
		return nil, atrium.Errorf(atrium.ENOTFOUND, "quota %q not found", id)
	}
	return usage.view(q, tree, c.user.IsResourceAdmin()), nil
}

func getQuota(c *call) (any, error) {
	tree, err := c.layoutTree()
	if err != nil {
		return nil, err
	}
	return c.quotaView(c.r.PathValue("quotaId"), tree)
}

// computeSnapshot is the scheduler's view of the cluster now (nodes, the
// quota tree, running and queued jobs) and the quotas by name.
func (s *Server) computeSnapshot(ctx context.Context) (scheduler.Snapshot, []*atrium.Quota, error) {
	v, err := cluster.Load(ctx, s.Store, s.Now(), cluster.DefaultPolicy)
	if err != nil {
		return scheduler.Snapshot{}, nil, err
	}
	// The view already read the quotas; list them by name as the store does.
	quotas := make([]*atrium.Quota, 0, len(v.Quotas))
	for _, q := range v.Quotas {
		quotas = append(quotas, q)
	}
	slices.SortFunc(quotas, func(a, b *atrium.Quota) int { return strings.Compare(a.Name, b.Name) })
	return v.Snapshot, quotas, nil
}

// quotaUsages is every quota with its usage, ready to render.
type quotaUsages struct {
	quotas   []*atrium.Quota // by name, as the store lists them
	byID     map[string]*atrium.Quota
	children map[string][]*atrium.Quota
	usage    map[string][]QuotaUsage
}

func (s *Server) quotaUsage(ctx context.Context) (*quotaUsages, error) {
	snap, quotas, err := s.computeSnapshot(ctx)
	if err != nil {
		return nil, err
	}
	u := &quotaUsages{quotas: quotas, byID: map[string]*atrium.Quota{}, children: map[string][]*atrium.Quota{}, usage: map[string][]QuotaUsage{}}
	for _, q := range quotas {
		u.byID[q.ID] = q
		if q.ParentID != "" {
			u.children[q.ParentID] = append(u.children[q.ParentID], q)
		}
	}
	usage, err := scheduler.Usage(snap)
	if err != nil {
		return nil, err
	}
	for id, qu := range usage {
		for _, x := range qu.Types {
			v := QuotaUsage{GPUType: x.GPUType, Min: usageVector(x.Min),
				Allocated: usageVector(x.Allocated), Used: usageVector(x.Used), Requested: usageVector(x.Requested),
				Borrowed: usageVector(x.Borrowed), Lent: usageVector(x.Lent), Available: usageVector(x.Available)}
			if !x.MaxUnlimited {
				m := usageVector(x.Max)
				v.Max = &m
			}
			u.usage[id] = append(u.usage[id], v)
		}
	}
	return u, nil
}

// view renders q with its usage; tree adds the subtree; admin shows offeredTo.
func (u *quotaUsages) view(q *atrium.Quota, tree, admin bool) *QuotaView {
	v := &QuotaView{ID: q.ID, Name: q.Name, Description: q.Description, ParentID: q.ParentID, ResourceGroupIDs: q.ResourceGroups,
		Min: q.Min.Specs(), Max: q.Max.Specs(), QueueStrategy: q.QueueStrategy,
		PreemptorPriority: q.PreemptorPriority, PreemptedPriority: q.PreemptedPriority, MinRuntime: time.Duration(q.MinRuntime).String(),
		OfferedToAll: q.OfferedToAll, CreatedAt: q.CreatedAt, UpdatedAt: q.UpdatedAt, Usage: u.usage[q.ID]}
	if len(q.LendingLimit) > 0 {
		v.LendingLimit = q.LendingLimit.Specs()
	}
	if admin {
		v.OfferedTo = q.OfferedTo
	}
	if v.Usage == nil {
		v.Usage = []QuotaUsage{}
	}
	if tree {
		for _, ch := range u.children[q.ID] {
			v.Children = append(v.Children, u.view(ch, true, admin))
		}
	}
	return v
}

// --- Workspace side: usable quotas, bindings, config ---

// BindQuotaRequest binds a quota offered to the workspace.
type BindQuotaRequest struct {
	QuotaID string `json:"quotaId"`
}

// usable reports which quotas ws may use (bound, or offered to all) and which it has bound.
func (c *call) bindings() (map[string]bool, error) {
	bs, err := c.s.Store.FindQuotaBindings(c.ctx(), c.ws.ID)
	if err != nil {
		return nil, err
	}
	bound := map[string]bool{}
	for _, b := range bs {
		bound[b.QuotaID] = true
	}
	return bound, nil
}

func listWorkspaceQuotas(c *call) (any, error) {
	offered, err := boolQuery(c.r.URL.Query(), "offered")
	if err != nil {
		return nil, err
	}
	bound, err := c.bindings()
	if err != nil {
		return nil, err
	}
	usage, err := c.s.quotaUsage(c.ctx())
	if err != nil {
		return nil, err
	}
	out := []*QuotaView{}
	for _, q := range usage.quotas {
		b := bound[q.ID]
		var show bool
		if offered != nil && *offered {
			show = q.Offered(c.ws.ID) && !b
		} else {
			show = b || q.OfferedToAll
		}
		if show {
			v := usage.view(q, false, c.user.IsResourceAdmin())
			v.Bound = &b
			out = append(out, v)
		}
	}
	return newList(out, len(out), page{}), nil
}

func getWorkspaceQuota(c *call) (any, error) {
	tree, err := c.layoutTree()
	if err != nil {
		return nil, err
	}
	bound, err := c.bindings()
	if err != nil {
		return nil, err
	}
	usage, err := c.s.quotaUsage(c.ctx())
	if err != nil {
		return nil, err
	}
	id := c.r.PathValue("quotaId")
	q := usage.byID[id]
	if q == nil || !(bound[id] || q.OfferedToAll) {
		return nil, atrium.Errorf(atrium.ENOTFOUND, "quota %q not found in workspace %s", id, c.ws.ID)
	}
	v := usage.view(q, tree, c.user.IsResourceAdmin())
	b := bound[id]
	v.Bound = &b
	return v, nil
}

func bindQuota(c *call) (any, error) {
	var req BindQuotaRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	if req.QuotaID == "" {
		return nil, atrium.FieldErrorf("quotaId", "is required")
	}
	q, err := c.s.Store.FindQuotaByID(c.ctx(), req.QuotaID)
	if err != nil && atrium.ErrorCode(err) != atrium.ENOTFOUND {
		return nil, err
	}
	// Unknown and not-offered quotas answer alike.
	if q == nil || !q.Offered(c.ws.ID) {
		return nil, atrium.FieldErrorf("quotaId", "no quota %q is offered to this workspace (see ?offered=true)", req.QuotaID)
	}
	return c.s.Store.BindQuota(c.ctx(), c.ws.ID, q.ID)
}

// unbindQuota refuses (409) to unbind the workspace's default quota when
// unbinding would leave it unusable: the default must be changed first, so
// jobs never silently move to another pool.
func unbindQuota(c *call) (any, error) {
	id := c.r.PathValue("quotaId")
	cfg, err := c.s.Store.FindWorkspaceConfig(c.ctx(), c.ws.ID)
	if err != nil {
		return nil, err
	}
	if cfg.DefaultQuotaID == id {
		q, err := c.s.Store.FindQuotaByID(c.ctx(), id)
		if err != nil && atrium.ErrorCode(err) != atrium.ENOTFOUND {
			return nil, err
		}
		if q != nil && !q.OfferedToAll {
			return nil, atrium.Errorf(atrium.ECONFLICT, "quota %s is the workspace's default quota (config defaultQuotaId); change the default first", id)
		}
	}
	return nil, c.s.Store.UnbindQuota(c.ctx(), c.ws.ID, id)
}

// WorkspaceConfigView is a workspace's scheduling configuration.
type WorkspaceConfigView struct {
	WorkspaceID string `json:"workspaceId"`
	// DefaultPriority per job kind (DLC, DSW, Pipeline, SQL), 1–9.
	DefaultPriority map[string]int `json:"defaultPriority"`
	// MaxPriority per workspace role, 1–9: the highest priority a member
	// holding the role may ask for (the best of their roles counts).
	MaxPriority map[string]int `json:"maxPriority"`
	// MaxRunningTime per job kind as a duration ("24h"); absent or "0s": no cap.
	MaxRunningTime map[string]string `json:"maxRunningTime"`
	// QueueTimeout stops jobs queued longer than this; "0s" means never.
	QueueTimeout string `json:"queueTimeout"`
	// DefaultQuotaID is the quota of jobs that name none; "" means quota-public.
	DefaultQuotaID          string     `json:"defaultQuotaId"`
	RequireSeparateApprover bool       `json:"requireSeparateApprover"`
	UpdatedAt               *time.Time `json:"updatedAt,omitempty"`
}

// UpdateWorkspaceConfigRequest changes the config: absent fields keep their
// value; a map that is present replaces the whole map (job kinds left out
// of defaultPriority get 1).
type UpdateWorkspaceConfigRequest struct {
	DefaultPriority         *map[string]int    `json:"defaultPriority,omitempty"`
	MaxPriority             *map[string]int    `json:"maxPriority,omitempty"`
	MaxRunningTime          *map[string]string `json:"maxRunningTime,omitempty"`
	QueueTimeout            *string            `json:"queueTimeout,omitempty"`
	DefaultQuotaID          *string            `json:"defaultQuotaId,omitempty"`
	RequireSeparateApprover *bool              `json:"requireSeparateApprover,omitempty"`
}

func newWorkspaceConfigView(cfg *atrium.WorkspaceConfig) *WorkspaceConfigView {
	v := &WorkspaceConfigView{WorkspaceID: cfg.WorkspaceID, DefaultPriority: cfg.DefaultPriority, MaxPriority: cfg.MaxPriority,
		MaxRunningTime: map[string]string{}, QueueTimeout: time.Duration(cfg.QueueTimeout).String(),
		DefaultQuotaID: cfg.DefaultQuotaID, RequireSeparateApprover: cfg.RequireSeparateApprover}
	for k, d := range cfg.MaxRunningTime {
		v.MaxRunningTime[k] = time.Duration(d).String()
	}
	if v.DefaultPriority == nil {
		v.DefaultPriority = map[string]int{}
	}
	if v.MaxPriority == nil {
		v.MaxPriority = map[string]int{}
	}
	if !cfg.UpdatedAt.IsZero() {
		t := cfg.UpdatedAt
		v.UpdatedAt = &t
	}
	return v
}

func getWorkspaceConfig(c *call) (any, error) {
	cfg, err := c.s.Store.FindWorkspaceConfig(c.ctx(), c.ws.ID)
	if err != nil {
		return nil, err
	}
	return newWorkspaceConfigView(cfg), nil
}

func checkPriority(field string, p int) error {
	if p < 1 || p > 9 {
		return atrium.FieldErrorf(field, "must be a priority from 1 to 9 (9 highest), not %d", p)
	}
	return nil
}

func checkKind(field, kind string) error {
	if !slices.Contains(atrium.JobKinds, kind) {
		return atrium.FieldErrorf(field, "unknown job kind %q; known: %s", kind, strings.Join(atrium.JobKinds, ", "))
	}
	return nil
}

func updateWorkspaceConfig(c *call) (any, error) {
	var req UpdateWorkspaceConfigRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	cfg, err := c.s.Store.FindWorkspaceConfig(c.ctx(), c.ws.ID)
	if err != nil {
		return nil, err
	}
	if req.DefaultPriority != nil {
		m := map[string]int{}
		for _, k := range sortedKeys(*req.DefaultPriority) {
			field := "defaultPriority." + k
			if err := checkKind(field, k); err != nil {
				return nil, err
			}
			if err := checkPriority(field, (*req.DefaultPriority)[k]); err != nil {
				return nil, err
			}
			m[k] = (*req.DefaultPriority)[k]
		}
		for _, k := range atrium.JobKinds {
			if _, ok := m[k]; !ok {
				m[k] = 1
			}
		}
		cfg.DefaultPriority = m
	}
	if req.MaxPriority != nil {
		custom, err := c.s.Store.FindRoles(c.ctx(), c.ws.ID)
		if err != nil {
			return nil, err
		}
		m := map[string]int{}
		for _, k := range sortedKeys(*req.MaxPriority) {
			field := "maxPriority." + k
			if !atrium.IsBuiltinRole(k) && !slices.ContainsFunc(custom, func(r *atrium.Role) bool { return r.Name == k }) {
				return nil, atrium.FieldErrorf(field, "unknown role %q: give a built-in role or one of the workspace's custom roles", k)
			}
			if err := checkPriority(field, (*req.MaxPriority)[k]); err != nil {
				return nil, err
			}
			m[k] = (*req.MaxPriority)[k]
		}
		cfg.MaxPriority = m
	}
	if req.MaxRunningTime != nil {
		m := map[string]atrium.Duration{}
		for _, k := range sortedKeys(*req.MaxRunningTime) {
			field := "maxRunningTime." + k
			if err := checkKind(field, k); err != nil {
				return nil, err
			}
			s := (*req.MaxRunningTime)[k]
			if s == "" {
				return nil, atrium.FieldErrorf(field, "must be a duration such as 24h (0s for no cap)")
			}
			d, err := parseDuration(field, s)
			if err != nil {
				return nil, err
			}
			m[k] = atrium.Duration(d)
		}
		cfg.MaxRunningTime = m
	}
	if req.QueueTimeout != nil {
		d, err := parseDuration("queueTimeout", *req.QueueTimeout)
		if err != nil {
			return nil, err
		}
		cfg.QueueTimeout = atrium.Duration(d)
	}
	if req.DefaultQuotaID != nil {
		if id := *req.DefaultQuotaID; id != "" {
			bound, err := c.bindings()
			if err != nil {
				return nil, err
			}
			q, err := c.s.Store.FindQuotaByID(c.ctx(), id)
			if err != nil && atrium.ErrorCode(err) != atrium.ENOTFOUND {
				return nil, err
			}
			if q == nil || !(bound[id] || q.OfferedToAll) {
				return nil, atrium.FieldErrorf("defaultQuotaId", "quota %q is not usable by this workspace: bind it first, or give \"\" for %s", id, atrium.PublicQuotaID)
			}
		}
		cfg.DefaultQuotaID = *req.DefaultQuotaID
	}
	if req.RequireSeparateApprover != nil {
		cfg.RequireSeparateApprover = *req.RequireSeparateApprover
	}
	cfg.WorkspaceID = c.ws.ID
	if err := c.s.Store.PutWorkspaceConfig(c.ctx(), cfg); err != nil {
		return nil, err
	}
	return getWorkspaceConfig(c)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Request returns the request that would leave v as it is: the starting
// point of a change, since PUT replaces every changeable field.
func (v *QuotaView) Request() QuotaRequest {
	r := QuotaRequest{Name: v.Name, Description: v.Description, ParentID: v.ParentID, ResourceGroupIDs: v.ResourceGroupIDs,
		Min: v.Min, Max: v.Max, LendingLimit: v.LendingLimit, QueueStrategy: v.QueueStrategy,
		PreemptorPriority: v.PreemptorPriority, PreemptedPriority: v.PreemptedPriority,
		OfferedToAll: v.OfferedToAll, OfferedTo: v.OfferedTo}
	if v.MinRuntime != "0s" {
		r.MinRuntime = v.MinRuntime
	}
	return r
}
