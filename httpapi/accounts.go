package httpapi

// Unix accounts of slurm resource groups (ResourceAdmin): which account the
// jobs of a workspace, or of one user, run as on the cluster. A user's
// mapping wins over the workspace's, which wins over the group's
// defaultUnixAccount; root is refused everywhere.

import (
	"atrium"
	"atrium/authz"
)

// AccountMappingRequest sets the Unix account of a workspace or a user on
// a slurm resource group.
type AccountMappingRequest struct {
	// UnixAccount is a Unix account name known to Atrium's host and the
	// cluster's nodes; never root (uid 0).
	UnixAccount string `json:"unixAccount"`
}

// AccountMappingView is a mapping with the name of its workspace or user.
type AccountMappingView struct {
	atrium.AccountMapping
	WorkspaceName string `json:"workspaceName,omitempty"`
	UserName      string `json:"userName,omitempty"`
}

// AccountsView is the whole account setup of a resource group: the default
// and the mappings (workspaces first, then users).
type AccountsView struct {
	ResourceGroupID string `json:"resourceGroupId"`
	Backend         string `json:"backend"`
	// DefaultUnixAccount covers jobs no mapping names; empty: such jobs are
	// refused.
	DefaultUnixAccount string                `json:"defaultUnixAccount"`
	Mappings           []*AccountMappingView `json:"mappings"`
}

// accountsCode guards every change of the account a job runs as.
const accountsCode = "ResourceGroup:UpdateAccounts"

// validateDefaultAccount checks a group's defaultUnixAccount ("" is none)
// and that the caller may set it.
func (c *call) validateDefaultAccount(backend, account string) error {
	if backend != atrium.BackendSlurm && account != "" {
		return atrium.FieldErrorf("defaultUnixAccount", "only a slurm resource group runs its jobs as a Unix account")
	}
	if account != "" {
		if err := atrium.ValidateUnixAccount("defaultUnixAccount", account); err != nil {
			return err
		}
	}
	return c.authorize(accountsCode, authz.Resource{Kind: "resourceGroup"})
}

func (c *call) accountView(m *atrium.AccountMapping) *AccountMappingView {
	v := &AccountMappingView{AccountMapping: *m}
	if m.WorkspaceID != "" {
		if ws, err := c.s.Store.FindWorkspaceByID(c.ctx(), m.WorkspaceID); err == nil {
			v.WorkspaceName = ws.Name
		}
	} else if u, err := c.s.Store.FindUserByID(c.ctx(), m.UserID); err == nil {
		v.UserName = u.Name
	}
	return v
}

func listAccounts(c *call) (any, error) {
	g, err := c.s.Store.FindResourceGroupByID(c.ctx(), c.r.PathValue("resourceGroupId"))
	if err != nil {
		return nil, err
	}
	ms, err := c.s.Store.FindAccountMappings(c.ctx(), atrium.AccountMappingFilter{GroupID: g.ID})
	if err != nil {
		return nil, err
	}
	out := &AccountsView{ResourceGroupID: g.ID, Backend: g.Backend, DefaultUnixAccount: g.DefaultUnixAccount, Mappings: []*AccountMappingView{}}
	for _, m := range ms {
		out.Mappings = append(out.Mappings, c.accountView(m))
	}
	return out, nil
}

func putWorkspaceAccount(c *call) (any, error) { return c.putAccount(c.r.PathValue("workspaceId"), "") }
func putUserAccount(c *call) (any, error)      { return c.putAccount("", c.r.PathValue("userId")) }

func (c *call) putAccount(workspaceID, userID string) (any, error) {
	var req AccountMappingRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	if req.UnixAccount == "" {
		return nil, atrium.FieldErrorf("unixAccount", "is required: the Unix account the jobs run as (never root)")
	}
	if err := atrium.ValidateUnixAccount("unixAccount", req.UnixAccount); err != nil {
		return nil, err
	}
	m := &atrium.AccountMapping{GroupID: c.r.PathValue("resourceGroupId"), WorkspaceID: workspaceID, UserID: userID, UnixAccount: req.UnixAccount}
	if err := c.s.Store.PutAccountMapping(c.ctx(), m); err != nil {
		return nil, err
	}
	return c.accountView(m), nil
}

func deleteWorkspaceAccount(c *call) (any, error) {
	return nil, c.s.Store.DeleteAccountMapping(c.ctx(), c.r.PathValue("resourceGroupId"), c.r.PathValue("workspaceId"), "")
}

func deleteUserAccount(c *call) (any, error) {
	return nil, c.s.Store.DeleteAccountMapping(c.ctx(), c.r.PathValue("resourceGroupId"), "", c.r.PathValue("userId"))
}
