package httpapi

import (
	"cmp"
	"slices"
	"time"

	"atrium"
)

// CreateWorkspaceRequest creates a workspace.
type CreateWorkspaceRequest struct {
	Name        string   `json:"name"`
	DisplayName string   `json:"displayName,omitempty"`
	Description string   `json:"description,omitempty"`
	EnvTypes    []string `json:"envTypes"`
}

// UpdateWorkspaceRequest changes a workspace; name and envTypes are fixed at
// creation and are rejected with that reason.
type UpdateWorkspaceRequest struct {
	DisplayName *string   `json:"displayName,omitempty"`
	Description *string   `json:"description,omitempty"`
	Name        *string   `json:"name,omitempty"`
	EnvTypes    *[]string `json:"envTypes,omitempty"`
}

func createWorkspace(c *call) (any, error) {
	var req CreateWorkspaceRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	w := &atrium.Workspace{Name: req.Name, DisplayName: cmp.Or(req.DisplayName, req.Name), Description: req.Description,
		EnvTypes: req.EnvTypes, Status: atrium.WorkspaceEnabled, Creator: c.user.ID}
	if err := w.Validate(); err != nil {
		return nil, err
	}
	if err := c.s.Store.CreateWorkspace(c.ctx(), w); err != nil {
		return nil, err
	}
	return w, nil
}

func listWorkspaces(c *call) (any, error) {
	q := c.r.URL.Query()
	p, err := readPage(q)
	if err != nil {
		return nil, err
	}
	sortBy, err := oneOf(q, "sortBy", "name", "createdAt")
	if err != nil {
		return nil, err
	}
	order, err := oneOf(q, "order", "asc", "desc")
	if err != nil {
		return nil, err
	}
	all, err := boolQuery(q, "all")
	if err != nil {
		return nil, err
	}
	f := atrium.WorkspaceFilter{NameLike: q.Get("name"), SortBy: sortBy, Desc: order == "desc", Offset: p.offset, Limit: p.limit}
	if s := q.Get("status"); s != "" {
		f.Status = &s
	}
	// Only ResourceAdmin sees workspaces they do not belong to.
	if !c.user.IsResourceAdmin() || (all != nil && !*all) {
		f.MemberID = c.user.ID
	}
	items, total, err := c.s.Store.FindWorkspaces(c.ctx(), f)
	if err != nil {
		return nil, err
	}
	return newList(items, total, p), nil
}

func getWorkspace(c *call) (any, error) { return c.ws, nil }

func updateWorkspace(c *call) (any, error) {
	var req UpdateWorkspaceRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	if req.Name != nil && *req.Name != c.ws.Name {
		return nil, atrium.FieldErrorf("name", "cannot be changed after creation")
	}
	if req.EnvTypes != nil && !slices.Equal(*req.EnvTypes, c.ws.EnvTypes) {
		return nil, atrium.FieldErrorf("envTypes", "are fixed at creation")
	}
	if req.DisplayName != nil {
		if err := atrium.ValidateDisplayName("displayName", *req.DisplayName); err != nil {
			return nil, err
		}
	}
	if req.Description != nil {
		if err := atrium.ValidateDescription(*req.Description); err != nil {
			return nil, err
		}
	}
	return c.s.Store.UpdateWorkspace(c.ctx(), c.ws.ID, atrium.WorkspaceUpdate{DisplayName: req.DisplayName, Description: req.Description})
}

func deleteWorkspace(c *call) (any, error) {
	return nil, c.s.Store.DeleteWorkspace(c.ctx(), c.ws.ID)
}

// AddMembersRequest adds several users at once.
type AddMembersRequest struct {
	Members []atrium.MemberParams `json:"members"`
}

// AddMembersResponse lists the members created.
type AddMembersResponse struct {
	Members []*atrium.Member `json:"members"`
}

func addMembers(c *call) (any, error) {
	var req AddMembersRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	if len(req.Members) == 0 {
		return nil, atrium.FieldErrorf("members", "must list at least one {userId, roles}")
	}
	if len(req.Members) > 100 {
		return nil, atrium.FieldErrorf("members", "must list at most 100 users per call")
	}
	for i := range req.Members {
		m := &req.Members[i]
		field := "members[" + itoa(i) + "]"
		if m.UserName != "" {
			u, err := c.s.Store.FindUserByName(c.ctx(), m.UserName)
			if atrium.ErrorCode(err) == atrium.ENOTFOUND {
				return nil, atrium.FieldErrorf(field+".userName", "no user is named %q", m.UserName)
			} else if err != nil {
				return nil, err
			}
			if m.UserID != "" && m.UserID != u.ID {
				return nil, atrium.FieldErrorf(field+".userId", "names a different user than userName %q", m.UserName)
			}
			m.UserID = u.ID
		}
		if m.UserID == "" {
			return nil, atrium.FieldErrorf(field+".userId", "is required (or give userName)")
		}
		if len(m.Roles) == 0 {
			return nil, atrium.FieldErrorf(field+".roles", "must hold at least one role")
		}
	}
	ms, err := c.s.Store.AddMembers(c.ctx(), c.ws.ID, req.Members)
	if err != nil {
		return nil, err
	}
	return AddMembersResponse{Members: ms}, nil
}

func listMembers(c *call) (any, error) {
	q := c.r.URL.Query()
	p, err := readPage(q)
	if err != nil {
		return nil, err
	}
	if r := q.Get("role"); r != "" && !atrium.IsBuiltinRole(r) {
		if _, err := c.s.Store.FindRole(c.ctx(), c.ws.ID, r); err != nil {
			return nil, atrium.FieldErrorf("role", "unknown role %q", r)
		}
	}
	items, total, err := c.s.Store.FindMembers(c.ctx(), atrium.MemberFilter{WorkspaceID: c.ws.ID, Role: q.Get("role"), NameLike: q.Get("name"), Offset: p.offset, Limit: p.limit})
	if err != nil {
		return nil, err
	}
	return newList(items, total, p), nil
}

func getMember(c *call) (any, error) {
	return c.s.Store.FindMemberByID(c.ctx(), c.ws.ID, c.r.PathValue("memberId"))
}

func deleteMember(c *call) (any, error) {
	return nil, c.s.Store.DeleteMember(c.ctx(), c.ws.ID, c.r.PathValue("memberId"))
}

func addMemberRole(c *call) (any, error) {
	return c.s.Store.AddMemberRole(c.ctx(), c.ws.ID, c.r.PathValue("memberId"), c.r.PathValue("roleName"))
}

func removeMemberRole(c *call) (any, error) {
	return c.s.Store.RemoveMemberRole(c.ctx(), c.ws.ID, c.r.PathValue("memberId"), c.r.PathValue("roleName"))
}

// RoleRequest creates a custom role.
type RoleRequest struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Permissions []string `json:"permissions"`
}

// UpdateRoleRequest changes a custom role; absent fields stay.
type UpdateRoleRequest struct {
	Name        *string   `json:"name,omitempty"`
	Description *string   `json:"description,omitempty"`
	Permissions *[]string `json:"permissions,omitempty"`
}

type roleView struct {
	Name        string     `json:"name"`
	Description string     `json:"description"`
	BuiltIn     bool       `json:"builtIn"`
	Permissions []string   `json:"permissions"`
	CreatedAt   *time.Time `json:"createdAt,omitempty"`
	UpdatedAt   *time.Time `json:"updatedAt,omitempty"`
}

func customRoleView(r *atrium.Role) *roleView {
	return &roleView{Name: r.Name, Description: r.Description, Permissions: r.Permissions, CreatedAt: &r.CreatedAt, UpdatedAt: &r.UpdatedAt}
}

// builtinRoleView derives a built-in role's permissions from the table.
func (s *Server) builtinRoleView(name string) *roleView {
	v := &roleView{Name: name, BuiltIn: true, Description: builtinRoleDescriptions[name], Permissions: []string{}}
	for _, p := range s.Authz.Permissions() {
		if sc, ok := p.Grants[name]; ok {
			entry := p.Code
			if sc.String() != "All" {
				entry += "@" + sc.String()
			}
			v.Permissions = append(v.Permissions, entry)
		}
	}
	return v
}

var builtinRoleDescriptions = map[string]string{
	atrium.RoleWorkspaceOwner:      "Team lead: everything inside the workspace",
	atrium.RoleWorkspaceAdmin:      "Team lead: members, roles, quotas, configuration, all assets and jobs",
	atrium.RoleAlgoDeveloper:       "ML engineer: own and public assets, submits jobs, notebooks and pipelines",
	atrium.RoleAlgoOperator:        "MLOps engineer: as a developer, plus view, stop and re-prioritise all jobs and approve model versions",
	atrium.RoleLabelManager:        "Data labelling lead: creates and updates labeling datasets",
	atrium.RoleWorkspaceGuest:      "Stakeholder: read-only access to the workspace and public assets",
	atrium.RoleMaxComputeDeveloper: "Data engineer: submits SQL jobs and pipeline runs",
}

func listRoles(c *call) (any, error) {
	var out []*roleView
	for _, r := range atrium.BuiltinRoles {
		out = append(out, c.s.builtinRoleView(r))
	}
	custom, err := c.s.Store.FindRoles(c.ctx(), c.ws.ID)
	if err != nil {
		return nil, err
	}
	for _, r := range custom {
		out = append(out, customRoleView(r))
	}
	return newList(out, len(out), page{}), nil
}

func getRole(c *call) (any, error) {
	name := c.r.PathValue("roleName")
	if atrium.IsBuiltinRole(name) {
		return c.s.builtinRoleView(name), nil
	}
	r, err := c.s.Store.FindRole(c.ctx(), c.ws.ID, name)
	if err != nil {
		return nil, err
	}
	return customRoleView(r), nil
}

// checkRole validates a custom role's description and permissions against the table.
func (c *call) checkRole(description string, perms []string) error {
	if err := atrium.ValidateDescription(description); err != nil {
		return err
	}
	if len(perms) == 0 {
		return atrium.FieldErrorf("permissions", "must list at least one permission code")
	}
	seen := map[string]bool{}
	for i, p := range perms {
		field := "permissions[" + itoa(i) + "]"
		if _, _, err := c.s.Authz.ParseGrant(p); err != nil {
			return atrium.FieldErrorf(field, "%v", err)
		}
		if seen[p] {
			return atrium.FieldErrorf(field, "%q is listed twice", p)
		}
		seen[p] = true
	}
	return nil
}

func createRole(c *call) (any, error) {
	var req RoleRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	if err := atrium.ValidateRoleName(req.Name); err != nil {
		return nil, err
	}
	if err := c.checkRole(req.Description, req.Permissions); err != nil {
		return nil, err
	}
	r := &atrium.Role{WorkspaceID: c.ws.ID, Name: req.Name, Description: req.Description, Permissions: req.Permissions}
	if err := c.s.Store.CreateRole(c.ctx(), r); err != nil {
		return nil, err
	}
	return customRoleView(r), nil
}

func updateRole(c *call) (any, error) {
	name := c.r.PathValue("roleName")
	if atrium.IsBuiltinRole(name) {
		return nil, atrium.Errorf(atrium.ECONFLICT, "built-in role %s cannot be changed; create a custom role instead", name)
	}
	var req UpdateRoleRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	if req.Name != nil && *req.Name != name {
		return nil, atrium.FieldErrorf("name", "cannot be changed; create a new role instead")
	}
	cur, err := c.s.Store.FindRole(c.ctx(), c.ws.ID, name)
	if err != nil {
		return nil, err
	}
	desc, perms := cmp.Or(req.Description, &cur.Description), cur.Permissions
	if req.Permissions != nil {
		perms = *req.Permissions
	}
	if err := c.checkRole(*desc, perms); err != nil {
		return nil, err
	}
	r, err := c.s.Store.UpdateRole(c.ctx(), c.ws.ID, name, atrium.RoleUpdate{Description: desc, Permissions: perms})
	if err != nil {
		return nil, err
	}
	return customRoleView(r), nil
}

func deleteRole(c *call) (any, error) {
	name := c.r.PathValue("roleName")
	if atrium.IsBuiltinRole(name) {
		return nil, atrium.Errorf(atrium.ECONFLICT, "built-in role %s cannot be deleted", name)
	}
	return nil, c.s.Store.DeleteRole(c.ctx(), c.ws.ID, name)
}

type operationLogView = atrium.OperationLog

func (c *call) operationLogs(f atrium.OperationLogFilter) (any, error) {
	q := c.r.URL.Query()
	p, err := readPage(q)
	if err != nil {
		return nil, err
	}
	result, err := oneOf(q, "result", atrium.ResultSucceeded, atrium.ResultDenied, atrium.ResultFailed)
	if err != nil {
		return nil, err
	}
	f.ActorID, f.Action, f.Result, f.Offset, f.Limit = q.Get("actorId"), q.Get("action"), result, p.offset, p.limit
	items, total, err := c.s.Store.FindOperationLogs(c.ctx(), f)
	if err != nil {
		return nil, err
	}
	return newList(items, total, p), nil
}

func listOperationLogs(c *call) (any, error) {
	return c.operationLogs(atrium.OperationLogFilter{WorkspaceID: &c.ws.ID})
}

func listPlatformOperationLogs(c *call) (any, error) {
	var f atrium.OperationLogFilter
	if id := c.r.URL.Query().Get("workspaceId"); id != "" {
		f.WorkspaceID = &id
	}
	return c.operationLogs(f)
}
