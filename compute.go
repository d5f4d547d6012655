package atrium

import (
	"context"
	"regexp"
	"time"

	"atrium/resource"
)

// ID prefixes of compute objects.
const (
	PrefixResourceGroup = "rg-"
	PrefixQuota         = "quota-"
)

// Well-known ids created on first start.
const (
	LocalResourceGroupID = "rg-local"
	PublicQuotaID        = "quota-public"
)

// Executor backends of a resource group.
const (
	BackendLocal      = "local"
	BackendSlurm      = "slurm"
	BackendKubernetes = "kubernetes"
)

// Node states.
const (
	NodeReady    = "Ready"
	NodeNotReady = "NotReady"
	NodeDraining = "Draining"
)

// ResourceGroup is a pool of nodes behind one executor backend.
type ResourceGroup struct {
	ID          string `json:"resourceGroupId"`
	Name        string `json:"name"`
	Backend     string `json:"backend"`
	Description string `json:"description"`
	// Partition is the Slurm partition jobs of a slurm group go to.
	Partition string `json:"partition,omitempty"`
	// DefaultUnixAccount is the Unix account a slurm group's jobs run as
	// when no AccountMapping names one for their user or workspace; never
	// root. Empty: such jobs are refused.
	DefaultUnixAccount string    `json:"defaultUnixAccount,omitempty"`
	CreatedAt          time.Time `json:"createdAt"`
	UpdatedAt          time.Time `json:"updatedAt"`
}

// Node is a machine of a resource group. Names are unique platform-wide.
type Node struct {
	Name      string            `json:"name"`
	GroupID   string            `json:"resourceGroupId"`
	GPUType   string            `json:"gpuType"`
	Capacity  resource.Vector   `json:"capacity"`
	Labels    map[string]string `json:"labels"`
	State     string            `json:"state"`
	CreatedAt time.Time         `json:"createdAt"`
	UpdatedAt time.Time         `json:"updatedAt"`
}

// Queue strategies of a quota.
const (
	StrictFIFO  = "StrictFIFO"
	RoundRobin  = "RoundRobin"
	Intelligent = "Intelligent"
)

// Quota is a node of the quota tree. A root draws on resource
// groups, a child on its parent. Resource lists are per gpuType ("" is
// CPU-only capacity).
type Quota struct {
	ID             string   `json:"quotaId"`
	Name           string   `json:"name"`
	Description    string   `json:"description"`
	ParentID       string   `json:"parentId,omitempty"`
	ResourceGroups []string `json:"resourceGroupIds,omitempty"`
	// Min is guaranteed; Max caps the subtree (a gpuType absent from Max is
	// capped only by the parent); LendingLimit caps how much unused Min
	// siblings may borrow (absent: all of it).
	Min           resource.List `json:"min"`
	Max           resource.List `json:"max"`
	LendingLimit  resource.List `json:"lendingLimit,omitempty"`
	QueueStrategy string        `json:"queueStrategy"`
	// A job of priority ≥ PreemptorPriority may preempt jobs of this quota
	// with priority ≤ PreemptedPriority; 0 turns in-quota preemption off.
	PreemptorPriority int `json:"preemptorPriority"`
	PreemptedPriority int `json:"preemptedPriority"`
	// MinRuntime protects a job from preemption until it has run this long.
	MinRuntime Duration `json:"minRuntime"`
	// OfferedToAll offers the quota to every workspace (the public pool);
	// otherwise OfferedTo lists the workspaces that may bind it.
	OfferedToAll bool      `json:"offeredToAll"`
	OfferedTo    []string  `json:"offeredTo"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

// Offered reports whether workspace ws may bind (or, for the public pool, use) q.
func (q *Quota) Offered(ws string) bool {
	if q.OfferedToAll {
		return true
	}
	for _, w := range q.OfferedTo {
		if w == ws {
			return true
		}
	}
	return false
}

var computeNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{1,62}$`)

// ValidateComputeName checks resource group, node and quota names.
func ValidateComputeName(field, name string) error {
	if !computeNameRE.MatchString(name) {
		return FieldErrorf(field, "must be 2–63 characters of lowercase letters, digits or '-', starting with a letter")
	}
	return nil
}

// QuotaBinding binds a quota to a workspace.
type QuotaBinding struct {
	WorkspaceID string    `json:"workspaceId"`
	QuotaID     string    `json:"quotaId"`
	CreatedAt   time.Time `json:"createdAt"`
}

// Job kinds with their own defaults in the workspace config.
const (
	KindDLC      = "DLC"
	KindDSW      = "DSW"
	KindPipeline = "Pipeline"
	KindSQL      = "SQL"
)

// JobKinds lists the job kinds.
var JobKinds = []string{KindDLC, KindDSW, KindPipeline, KindSQL}

// WorkspaceConfig is a workspace's scheduling policy and settings.
type WorkspaceConfig struct {
	WorkspaceID string `json:"workspaceId"`
	// DefaultPriority per job kind (1–9).
	DefaultPriority map[string]int `json:"defaultPriority"`
	// MaxPriority per workspace role: the highest priority a member holding
	// the role may ask for (the best of their roles counts).
	MaxPriority map[string]int `json:"maxPriority"`
	// MaxRunningTime per job kind; 0 or absent means no cap.
	MaxRunningTime map[string]Duration `json:"maxRunningTime"`
	// QueueTimeout stops jobs queued longer than this; 0 means never.
	QueueTimeout Duration `json:"queueTimeout"`
	// DefaultQuotaID is used by jobs that name no quota; "" means quota-public.
	DefaultQuotaID string `json:"defaultQuotaId"`
	// RequireSeparateApprover forbids approving model versions one created.
	RequireSeparateApprover bool      `json:"requireSeparateApprover"`
	UpdatedAt               time.Time `json:"updatedAt"`
}

// DefaultWorkspaceConfig is the configuration of a workspace nobody has
// configured yet (PAI's defaults).
func DefaultWorkspaceConfig(ws string) *WorkspaceConfig {
	return &WorkspaceConfig{
		WorkspaceID:     ws,
		DefaultPriority: map[string]int{KindDLC: 1, KindDSW: 1, KindPipeline: 1, KindSQL: 1},
		MaxPriority: map[string]int{
			RoleWorkspaceOwner: 9, RoleWorkspaceAdmin: 9, RoleAlgoOperator: 9,
			RoleAlgoDeveloper: 6, RoleMaxComputeDeveloper: 6, RoleLabelManager: 6,
		},
		MaxRunningTime:          map[string]Duration{},
		RequireSeparateApprover: true,
	}
}

// ResourceGroupUpdate changes a resource group; nil means unchanged.
type ResourceGroupUpdate struct {
	Name        *string
	Description *string
	Partition   *string
	// DefaultUnixAccount: "" removes the default.
	DefaultUnixAccount *string
}

// QuotaFilter selects quotas.
type QuotaFilter struct {
	ParentID *string
	// UsableBy selects quotas workspace id may use: bound to it or offered to all.
	UsableBy string
	// OfferedTo selects quotas offered to workspace id (to all or by name).
	OfferedTo string
}

// ComputeService keeps resource groups, nodes, quotas, bindings and
// workspace configs.
type ComputeService interface {
	// CreateResourceGroup inserts g (ID set when empty). ECONFLICT on a taken id or name.
	CreateResourceGroup(ctx context.Context, g *ResourceGroup) error
	// FindResourceGroupByID returns ENOTFOUND if absent.
	FindResourceGroupByID(ctx context.Context, id string) (*ResourceGroup, error)
	// FindResourceGroups lists all groups by name.
	FindResourceGroups(ctx context.Context) ([]*ResourceGroup, error)
	// UpdateResourceGroup returns ENOTFOUND if absent.
	UpdateResourceGroup(ctx context.Context, id string, upd ResourceGroupUpdate) (*ResourceGroup, error)
	// DeleteResourceGroup removes a group and its nodes; ECONFLICT while a quota draws on it.
	DeleteResourceGroup(ctx context.Context, id string) error

	// PutNode creates or replaces the node n.Name in group n.GroupID;
	// ECONFLICT if the name is taken in another group, ENOTFOUND for an
	// unknown group. Shrinking capacity below what root quotas guarantee is
	// allowed (nodes fail); the quota report shows the shortfall.
	PutNode(ctx context.Context, n *Node) error
	// FindNodes lists nodes by name; groupID "" means all groups.
	FindNodes(ctx context.Context, groupID string) ([]*Node, error)
	// DeleteNode returns ENOTFOUND if absent.
	DeleteNode(ctx context.Context, groupID, name string) error

	// CreateQuota inserts q after checking the whole tree with
	// ValidateQuotaTree in the same transaction. EINVALID names the field.
	CreateQuota(ctx context.Context, q *Quota) error
	// FindQuotaByID returns ENOTFOUND if absent.
	FindQuotaByID(ctx context.Context, id string) (*Quota, error)
	// FindQuotas lists quotas by name.
	FindQuotas(ctx context.Context, f QuotaFilter) ([]*Quota, error)
	// UpdateQuota replaces q (by q.ID; CreatedAt kept) after checking the tree.
	UpdateQuota(ctx context.Context, q *Quota) error
	// DeleteQuota removes a quota; ECONFLICT while it has children or bindings.
	DeleteQuota(ctx context.Context, id string) error

	// BindQuota binds a quota offered to the workspace; EINVALID if not
	// offered, ECONFLICT if already bound.
	BindQuota(ctx context.Context, workspaceID, quotaID string) (*QuotaBinding, error)
	// UnbindQuota returns ENOTFOUND if not bound.
	UnbindQuota(ctx context.Context, workspaceID, quotaID string) error
	// FindQuotaBindings lists a workspace's bindings.
	FindQuotaBindings(ctx context.Context, workspaceID string) ([]*QuotaBinding, error)

	// PutAccountMapping creates or replaces the mapping of m.WorkspaceID or
	// m.UserID (exactly one is set) on the slurm group m.GroupID, keeping
	// CreatedAt on replace. ENOTFOUND for an unknown group, workspace or
	// user; EINVALID for a group of another backend.
	PutAccountMapping(ctx context.Context, m *AccountMapping) error
	// DeleteAccountMapping removes the mapping of workspaceID or userID
	// (one is set) on a group; ENOTFOUND if there is none.
	DeleteAccountMapping(ctx context.Context, groupID, workspaceID, userID string) error
	AccountMappings

	// FindWorkspaceConfig returns the stored config or DefaultWorkspaceConfig.
	FindWorkspaceConfig(ctx context.Context, workspaceID string) (*WorkspaceConfig, error)
	// PutWorkspaceConfig replaces the config; ENOTFOUND for an unknown workspace.
	PutWorkspaceConfig(ctx context.Context, c *WorkspaceConfig) error
}
