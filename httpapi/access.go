package httpapi

import (
	"context"

	"atrium"

	"atrium/authz"
)

// AccessView is what the caller may do in a workspace: the inputs of the
// authorizer (roles) and, per permission code, the scope they hold (All,
// Own, Public or OwnOrPublic; codes held on nothing are left out). The
// console rebuilds an authz.Subject from it to offer only allowed actions.
type AccessView struct {
	// Workspace is the workspace itself, so one call gives a page both.
	Workspace     *atrium.Workspace `json:"workspace"`
	UserID        string            `json:"userId"`
	UserName      string            `json:"userName"`
	PlatformRoles []string          `json:"platformRoles"`
	Member        bool              `json:"member"`
	Roles         []string          `json:"roles"`
	Scopes        map[string]string `json:"scopes"`
	// RequireSeparateApprover is the workspace's approval setting: with it,
	// nobody approves a model version they registered.
	RequireSeparateApprover bool `json:"requireSeparateApprover"`
}

// Subject rebuilds the authorizer's view of the caller from v: the
// effective scopes stand in for the role grants, which gives the same
// decisions because scopes are a union over roles.
func (v *AccessView) Subject() authz.Subject {
	sub := authz.Subject{UserID: v.UserID, PlatformRoles: v.PlatformRoles, Member: v.Member, Roles: v.Roles,
		Custom: make(map[string]authz.Scope, len(v.Scopes))}
	for code, s := range v.Scopes {
		if sc, ok := authz.ParseScope(s); ok {
			sub.Custom[code] = sc
		}
	}
	return sub
}

func getAccess(c *call) (any, error) {
	v := &AccessView{Workspace: c.ws, UserID: c.user.ID, UserName: c.user.Name, PlatformRoles: c.user.PlatformRoles,
		Member: c.sub.Member, Roles: c.sub.Roles, Scopes: map[string]string{}}
	for _, p := range c.s.Authz.Permissions() {
		if sc := c.s.Authz.ScopeOf(c.sub, p.Code); sc != 0 {
			v.Scopes[p.Code] = sc.String()
		}
	}
	cfg, err := c.s.Store.FindWorkspaceConfig(c.ctx(), c.ws.ID)
	if err != nil {
		return nil, err
	}
	v.RequireSeparateApprover = cfg.RequireSeparateApprover
	return v, nil
}

// Access reads the caller's access in a workspace.
func (c *Client) Access(ctx context.Context, workspaceID string) (*AccessView, error) {
	var out AccessView
	return &out, c.do(ctx, "GET", wsPath(workspaceID)+"/access", nil, nil, &out, nil)
}
