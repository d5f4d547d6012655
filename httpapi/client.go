package httpapi

// This file is the Go client of the API: one method per route of
// apiRoutes, speaking the same request and response types, with
// problem+json errors decoded into *ProblemError.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"atrium"
)

// Client calls an Atrium server. The zero value is not usable: set BaseURL
// (e.g. http://127.0.0.1:8080) and, for everything except minting a token
// with a password, Token. HTTP defaults to a client with a 60s timeout.
type Client struct {
	BaseURL string
	Token   string
	HTTP    *http.Client
	// UserAgent is sent with every request when set.
	UserAgent string
}

// NewClient returns a client of the server at baseURL authenticating with token.
func NewClient(baseURL, token string) *Client {
	return &Client{BaseURL: baseURL, Token: token}
}

var defaultHTTPClient = &http.Client{Timeout: 60 * time.Second}

// ProblemError is an API error response: the server's problem+json body, or
// a synthesised one when the response was not problem+json (a proxy's error
// page, say).
type ProblemError struct {
	Problem
}

// Error reads like "403 Forbidden: permission Workspace:CreateMember is
// required (permission Workspace:CreateMember)"; the permission and field
// are appended only when the detail does not already name them.
func (e *ProblemError) Error() string {
	title := e.Title
	if title == "" {
		title = http.StatusText(e.Status)
	}
	s := fmt.Sprintf("%d %s", e.Status, title)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	var extra []string
	if e.Permission != "" && !strings.Contains(e.Detail, e.Permission) {
		extra = append(extra, "permission "+e.Permission)
	}
	if e.Field != "" && !strings.Contains(e.Detail, e.Field) {
		extra = append(extra, "field "+e.Field)
	}
	if len(extra) > 0 {
		s += " (" + strings.Join(extra, ", ") + ")"
	}
	return s
}

// IsProblem reports whether err is a *ProblemError with the given stable
// code (atrium.ENOTFOUND, atrium.EFORBIDDEN, …).
func IsProblem(err error, code string) bool {
	var pe *ProblemError
	return errors.As(err, &pe) && pe.Code == code
}

// PageOptions selects one page of a list; zero values take the server's
// defaults (50 items, first page).
type PageOptions struct {
	PageSize  int
	PageToken string
}

func (p PageOptions) set(q url.Values) {
	if p.PageSize > 0 {
		q.Set("pageSize", strconv.Itoa(p.PageSize))
	}
	if p.PageToken != "" {
		q.Set("pageToken", p.PageToken)
	}
}

// do sends one request. in, when non-nil, is sent as JSON; out, when non-nil,
// receives the decoded response (a *json.RawMessage keeps it verbatim).
// basic, when non-nil, authenticates with HTTP Basic instead of the token.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any, basic *[2]string) error {
	var (
		body  []byte
		ctype string
	)
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body, ctype = b, "application/json"
	}
	return c.doRaw(ctx, method, path, q, ctype, body, out, basic)
}

// doRaw is do with a body already encoded as ctype (nil: no body).
func (c *Client) doRaw(ctx context.Context, method, path string, q url.Values, ctype string, body []byte, out any, basic *[2]string) error {
	resp, err := c.send(ctx, method, path, q, ctype, body, basic, false)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading response: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeProblem(resp, data)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: cannot decode response: %w", method, path, err)
	}
	return nil
}

// send builds and sends one request and returns the response, whatever its
// status. stream drops the HTTP client's overall timeout, which would cut
// a long response (a followed log) short; ctx still bounds it.
func (c *Client) send(ctx context.Context, method, path string, q url.Values, ctype string, body []byte, basic *[2]string, stream bool) (*http.Response, error) {
	if c.BaseURL == "" {
		return nil, errors.New("atrium client: no server URL")
	}
	u := strings.TrimRight(c.BaseURL, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	if stream {
		req.Header.Set("Accept", "text/plain, application/problem+json")
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	switch {
	case basic != nil:
		req.SetBasicAuth(basic[0], basic[1])
	case c.Token != "":
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTPClient
	}
	if stream && hc.Timeout != 0 {
		cp := *hc
		cp.Timeout = 0
		hc = &cp
	}
	return hc.Do(req)
}

func decodeProblem(resp *http.Response, data []byte) error {
	pe := &ProblemError{}
	ct := resp.Header.Get("Content-Type")
	if strings.Contains(ct, "json") && json.Unmarshal(data, &pe.Problem) == nil && pe.Status != 0 {
		if pe.RequestID == "" {
			pe.RequestID = resp.Header.Get("X-Request-Id")
		}
		return pe
	}
	// Not ours: keep the status and a readable piece of the body.
	pe.Problem = Problem{Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode), RequestID: resp.Header.Get("X-Request-Id")}
	pe.Code = codeForStatus(resp.StatusCode)
	detail := strings.TrimSpace(string(data))
	if !utf8.ValidString(detail) {
		detail = ""
	}
	if len(detail) > 200 {
		detail = detail[:200] + "…"
	}
	pe.Detail = detail
	return pe
}

func codeForStatus(status int) string {
	for code, s := range codeStatus {
		if s == status {
			return code
		}
	}
	if status >= 500 {
		return atrium.EINTERNAL
	}
	return ""
}

func pathEsc(s string) string { return url.PathEscape(s) }

func wsPath(workspaceID string) string { return "/api/v1/workspaces/" + pathEsc(workspaceID) }

// --- Identity ---

// CreateToken mints a new API token for the caller authenticated by c.Token.
// The secret is in the response only.
func (c *Client) CreateToken(ctx context.Context, req CreateTokenRequest) (*CreatedToken, error) {
	var out CreatedToken
	return &out, c.do(ctx, "POST", "/api/v1/auth/tokens", nil, req, &out, nil)
}

// CreateTokenWithPassword mints a new API token authenticating with the
// user's name and password (HTTP Basic); this is how 'atrium login' starts.
func (c *Client) CreateTokenWithPassword(ctx context.Context, name, password string, req CreateTokenRequest) (*CreatedToken, error) {
	var out CreatedToken
	return &out, c.do(ctx, "POST", "/api/v1/auth/tokens", nil, req, &out, &[2]string{name, password})
}

// ListTokens lists the caller's tokens, without their secrets.
func (c *Client) ListTokens(ctx context.Context) (*List[*atrium.Token], error) {
	var out List[*atrium.Token]
	return &out, c.do(ctx, "GET", "/api/v1/auth/tokens", nil, nil, &out, nil)
}

// RevokeToken revokes one of the caller's tokens.
func (c *Client) RevokeToken(ctx context.Context, tokenID string) (*atrium.Token, error) {
	var out atrium.Token
	return &out, c.do(ctx, "DELETE", "/api/v1/auth/tokens/"+pathEsc(tokenID), nil, nil, &out, nil)
}

// CreateUser creates a user (ResourceAdmin).
func (c *Client) CreateUser(ctx context.Context, req CreateUserRequest) (*atrium.User, error) {
	var out atrium.User
	return &out, c.do(ctx, "POST", "/api/v1/users", nil, req, &out, nil)
}

// ListUsersOptions filters ListUsers.
type ListUsersOptions struct {
	// Name is a case-insensitive substring of the name or display name.
	Name string
	PageOptions
}

// ListUsers lists users (ResourceAdmin).
func (c *Client) ListUsers(ctx context.Context, opt ListUsersOptions) (*List[*atrium.User], error) {
	q := url.Values{}
	if opt.Name != "" {
		q.Set("name", opt.Name)
	}
	opt.PageOptions.set(q)
	var out List[*atrium.User]
	return &out, c.do(ctx, "GET", "/api/v1/users", q, nil, &out, nil)
}

// GetUser reads a user by id; "me" is the caller.
func (c *Client) GetUser(ctx context.Context, userID string) (*atrium.User, error) {
	var out atrium.User
	return &out, c.do(ctx, "GET", "/api/v1/users/"+pathEsc(userID), nil, nil, &out, nil)
}

// UpdateUser changes a user (ResourceAdmin); nil fields stay.
func (c *Client) UpdateUser(ctx context.Context, userID string, req UpdateUserRequest) (*atrium.User, error) {
	var out atrium.User
	return &out, c.do(ctx, "PUT", "/api/v1/users/"+pathEsc(userID), nil, req, &out, nil)
}

// PermissionInfo is one row of the permission table.
type PermissionInfo struct {
	Code              string `json:"code"`
	Module            string `json:"module"`
	Action            string `json:"action"`
	Level             string `json:"level"`
	Description       string `json:"description"`
	Read              string `json:"read,omitempty"`
	SeparateFromOwner bool   `json:"separateFromOwner,omitempty"`
	// Grants maps a role name to the scope it holds the permission on
	// (All, Own, Public or OwnOrPublic).
	Grants map[string]string `json:"grants"`
}

// ListPermissions returns the whole permission table.
func (c *Client) ListPermissions(ctx context.Context) (*List[PermissionInfo], error) {
	var out List[PermissionInfo]
	return &out, c.do(ctx, "GET", "/api/v1/permissions", nil, nil, &out, nil)
}

// GetDefaultWorkspace returns the caller's default workspace; WorkspaceID
// is empty when none is set.
func (c *Client) GetDefaultWorkspace(ctx context.Context) (*DefaultWorkspace, error) {
	var out DefaultWorkspace
	return &out, c.do(ctx, "GET", "/api/v1/default-workspace", nil, nil, &out, nil)
}

// SetDefaultWorkspace sets the caller's default workspace ("" clears it).
func (c *Client) SetDefaultWorkspace(ctx context.Context, workspaceID string) (*DefaultWorkspace, error) {
	var out DefaultWorkspace
	return &out, c.do(ctx, "PUT", "/api/v1/default-workspace", nil, DefaultWorkspace{WorkspaceID: workspaceID}, &out, nil)
}

// ListOperationLogsOptions filters the operation log.
type ListOperationLogsOptions struct {
	// WorkspaceID narrows the platform-wide log to one workspace; it is
	// ignored by ListOperationLogs, whose workspace is in the path.
	WorkspaceID string
	ActorID     string
	Action      string // a permission code
	Result      string // Succeeded, Denied or Failed
	PageOptions
}

func (o ListOperationLogsOptions) query(platform bool) url.Values {
	q := url.Values{}
	if platform && o.WorkspaceID != "" {
		q.Set("workspaceId", o.WorkspaceID)
	}
	for k, v := range map[string]string{"actorId": o.ActorID, "action": o.Action, "result": o.Result} {
		if v != "" {
			q.Set(k, v)
		}
	}
	o.PageOptions.set(q)
	return q
}

// ListPlatformOperationLogs reads the platform-wide operation log, newest
// first (ResourceAdmin).
func (c *Client) ListPlatformOperationLogs(ctx context.Context, opt ListOperationLogsOptions) (*List[*atrium.OperationLog], error) {
	var out List[*atrium.OperationLog]
	return &out, c.do(ctx, "GET", "/api/v1/operation-logs", opt.query(true), nil, &out, nil)
}

// --- Workspaces ---

// CreateWorkspace creates a workspace whose WorkspaceOwner is the caller (ResourceAdmin).
func (c *Client) CreateWorkspace(ctx context.Context, req CreateWorkspaceRequest) (*atrium.Workspace, error) {
	var out atrium.Workspace
	return &out, c.do(ctx, "POST", "/api/v1/workspaces", nil, req, &out, nil)
}

// ListWorkspacesOptions filters and orders ListWorkspaces.
type ListWorkspacesOptions struct {
	Name   string // case-insensitive substring of name or display name
	Status string
	SortBy string // name (default) or createdAt
	Order  string // asc (default) or desc
	// All: for a ResourceAdmin, nil or true lists every workspace, false
	// only those they belong to. Others always see their own.
	All *bool
	PageOptions
}

// ListWorkspaces lists the workspaces the caller may see.
func (c *Client) ListWorkspaces(ctx context.Context, opt ListWorkspacesOptions) (*List[*atrium.Workspace], error) {
	q := url.Values{}
	for k, v := range map[string]string{"name": opt.Name, "status": opt.Status, "sortBy": opt.SortBy, "order": opt.Order} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if opt.All != nil {
		q.Set("all", strconv.FormatBool(*opt.All))
	}
	opt.PageOptions.set(q)
	var out List[*atrium.Workspace]
	return &out, c.do(ctx, "GET", "/api/v1/workspaces", q, nil, &out, nil)
}

// GetWorkspace reads a workspace.
func (c *Client) GetWorkspace(ctx context.Context, workspaceID string) (*atrium.Workspace, error) {
	var out atrium.Workspace
	return &out, c.do(ctx, "GET", wsPath(workspaceID), nil, nil, &out, nil)
}

// UpdateWorkspace changes a workspace's display name or description.
func (c *Client) UpdateWorkspace(ctx context.Context, workspaceID string, req UpdateWorkspaceRequest) (*atrium.Workspace, error) {
	var out atrium.Workspace
	return &out, c.do(ctx, "PUT", wsPath(workspaceID), nil, req, &out, nil)
}

// DeleteWorkspace deletes a workspace with its members and roles (ResourceAdmin).
func (c *Client) DeleteWorkspace(ctx context.Context, workspaceID string) error {
	return c.do(ctx, "DELETE", wsPath(workspaceID), nil, nil, nil, nil)
}

// --- Members ---

// AddMembers adds users with roles, all or none.
func (c *Client) AddMembers(ctx context.Context, workspaceID string, members ...atrium.MemberParams) (*AddMembersResponse, error) {
	var out AddMembersResponse
	return &out, c.do(ctx, "POST", wsPath(workspaceID)+"/members", nil, AddMembersRequest{Members: members}, &out, nil)
}

// ListMembersOptions filters ListMembers.
type ListMembersOptions struct {
	Role string // only members holding this role
	Name string // case-insensitive substring of user name or display name
	PageOptions
}

// ListMembers lists a workspace's members ordered by user name.
func (c *Client) ListMembers(ctx context.Context, workspaceID string, opt ListMembersOptions) (*List[*atrium.Member], error) {
	q := url.Values{}
	if opt.Role != "" {
		q.Set("role", opt.Role)
	}
	if opt.Name != "" {
		q.Set("name", opt.Name)
	}
	opt.PageOptions.set(q)
	var out List[*atrium.Member]
	return &out, c.do(ctx, "GET", wsPath(workspaceID)+"/members", q, nil, &out, nil)
}

// GetMember reads a member.
func (c *Client) GetMember(ctx context.Context, workspaceID, memberID string) (*atrium.Member, error) {
	var out atrium.Member
	return &out, c.do(ctx, "GET", wsPath(workspaceID)+"/members/"+pathEsc(memberID), nil, nil, &out, nil)
}

// DeleteMember removes a member (not the last WorkspaceOwner).
func (c *Client) DeleteMember(ctx context.Context, workspaceID, memberID string) error {
	return c.do(ctx, "DELETE", wsPath(workspaceID)+"/members/"+pathEsc(memberID), nil, nil, nil, nil)
}

// AddMemberRole grants a member a role.
func (c *Client) AddMemberRole(ctx context.Context, workspaceID, memberID, role string) (*atrium.Member, error) {
	var out atrium.Member
	return &out, c.do(ctx, "POST", wsPath(workspaceID)+"/members/"+pathEsc(memberID)+"/roles/"+pathEsc(role), nil, nil, &out, nil)
}

// RemoveMemberRole revokes a member's role.
func (c *Client) RemoveMemberRole(ctx context.Context, workspaceID, memberID, role string) (*atrium.Member, error) {
	var out atrium.Member
	return &out, c.do(ctx, "DELETE", wsPath(workspaceID)+"/members/"+pathEsc(memberID)+"/roles/"+pathEsc(role), nil, nil, &out, nil)
}

// --- Roles ---

// RoleInfo is a built-in or custom workspace role with its permission
// grants ("Module:Action", optionally suffixed "@Own", "@Public" or
// "@OwnOrPublic").
type RoleInfo struct {
	Name        string     `json:"name"`
	Description string     `json:"description"`
	BuiltIn     bool       `json:"builtIn"`
	Permissions []string   `json:"permissions"`
	CreatedAt   *time.Time `json:"createdAt,omitempty"`
	UpdatedAt   *time.Time `json:"updatedAt,omitempty"`
}

// ListRoles lists the built-in roles and the workspace's custom roles.
func (c *Client) ListRoles(ctx context.Context, workspaceID string) (*List[*RoleInfo], error) {
	var out List[*RoleInfo]
	return &out, c.do(ctx, "GET", wsPath(workspaceID)+"/roles", nil, nil, &out, nil)
}

// CreateRole creates a custom role.
func (c *Client) CreateRole(ctx context.Context, workspaceID string, req RoleRequest) (*RoleInfo, error) {
	var out RoleInfo
	return &out, c.do(ctx, "POST", wsPath(workspaceID)+"/roles", nil, req, &out, nil)
}

// GetRole reads a built-in or custom role.
func (c *Client) GetRole(ctx context.Context, workspaceID, name string) (*RoleInfo, error) {
	var out RoleInfo
	return &out, c.do(ctx, "GET", wsPath(workspaceID)+"/roles/"+pathEsc(name), nil, nil, &out, nil)
}

// UpdateRole changes a custom role's description or permissions; nil fields stay.
func (c *Client) UpdateRole(ctx context.Context, workspaceID, name string, req UpdateRoleRequest) (*RoleInfo, error) {
	var out RoleInfo
	return &out, c.do(ctx, "PUT", wsPath(workspaceID)+"/roles/"+pathEsc(name), nil, req, &out, nil)
}

// DeleteRole deletes a custom role no member holds.
func (c *Client) DeleteRole(ctx context.Context, workspaceID, name string) error {
	return c.do(ctx, "DELETE", wsPath(workspaceID)+"/roles/"+pathEsc(name), nil, nil, nil, nil)
}

// --- Operation log ---

// ListOperationLogs reads a workspace's operation log, newest first.
func (c *Client) ListOperationLogs(ctx context.Context, workspaceID string, opt ListOperationLogsOptions) (*List[*atrium.OperationLog], error) {
	var out List[*atrium.OperationLog]
	return &out, c.do(ctx, "GET", wsPath(workspaceID)+"/operation-logs", opt.query(false), nil, &out, nil)
}

// --- Resource groups and nodes ---

// CreateResourceGroup registers a resource group (ResourceAdmin).
func (c *Client) CreateResourceGroup(ctx context.Context, req CreateResourceGroupRequest) (*ResourceGroupView, error) {
	var out ResourceGroupView
	return &out, c.do(ctx, "POST", "/api/v1/resource-groups", nil, req, &out, nil)
}

// ListResourceGroups lists resource groups with their capacity (ResourceAdmin).
func (c *Client) ListResourceGroups(ctx context.Context) (*List[*ResourceGroupView], error) {
	var out List[*ResourceGroupView]
	return &out, c.do(ctx, "GET", "/api/v1/resource-groups", nil, nil, &out, nil)
}

// GetResourceGroup reads a resource group with its nodes.
func (c *Client) GetResourceGroup(ctx context.Context, id string) (*ResourceGroupView, error) {
	var out ResourceGroupView
	return &out, c.do(ctx, "GET", "/api/v1/resource-groups/"+pathEsc(id), nil, nil, &out, nil)
}

// UpdateResourceGroup changes a resource group; nil fields stay.
func (c *Client) UpdateResourceGroup(ctx context.Context, id string, req UpdateResourceGroupRequest) (*ResourceGroupView, error) {
	var out ResourceGroupView
	return &out, c.do(ctx, "PUT", "/api/v1/resource-groups/"+pathEsc(id), nil, req, &out, nil)
}

// DeleteResourceGroup deletes a resource group and its nodes.
func (c *Client) DeleteResourceGroup(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/api/v1/resource-groups/"+pathEsc(id), nil, nil, nil, nil)
}

// ListNodes lists a resource group's nodes.
func (c *Client) ListNodes(ctx context.Context, groupID string) (*List[*NodeView], error) {
	var out List[*NodeView]
	return &out, c.do(ctx, "GET", "/api/v1/resource-groups/"+pathEsc(groupID)+"/nodes", nil, nil, &out, nil)
}

// ImportNodes records the nodes a slurm group's partition has.
func (c *Client) ImportNodes(ctx context.Context, groupID string) (*List[*NodeView], error) {
	var out List[*NodeView]
	return &out, c.do(ctx, "POST", "/api/v1/resource-groups/"+pathEsc(groupID)+"/import-nodes", nil, nil, &out, nil)
}

// PutNode creates or replaces a node of a resource group.
func (c *Client) PutNode(ctx context.Context, groupID, name string, req PutNodeRequest) (*NodeView, error) {
	var out NodeView
	return &out, c.do(ctx, "PUT", "/api/v1/resource-groups/"+pathEsc(groupID)+"/nodes/"+pathEsc(name), nil, req, &out, nil)
}

// DeleteNode removes a node.
func (c *Client) DeleteNode(ctx context.Context, groupID, name string) error {
	return c.do(ctx, "DELETE", "/api/v1/resource-groups/"+pathEsc(groupID)+"/nodes/"+pathEsc(name), nil, nil, nil, nil)
}

// ListAccounts reads the Unix accounts a slurm group's jobs run as.
func (c *Client) ListAccounts(ctx context.Context, groupID string) (*AccountsView, error) {
	var out AccountsView
	return &out, c.do(ctx, "GET", "/api/v1/resource-groups/"+pathEsc(groupID)+"/accounts", nil, nil, &out, nil)
}

// accountPath is the mapping of a workspace (kind "workspaces") or a user
// ("users") on a group.
func accountPath(groupID, kind, id string) string {
	return "/api/v1/resource-groups/" + pathEsc(groupID) + "/accounts/" + kind + "/" + pathEsc(id)
}

// PutAccountMapping runs the jobs of a workspace (kind "workspaces") or a
// user ("users") on a slurm group as a Unix account.
func (c *Client) PutAccountMapping(ctx context.Context, groupID, kind, id, account string) (*AccountMappingView, error) {
	var out AccountMappingView
	return &out, c.do(ctx, "PUT", accountPath(groupID, kind, id), nil, AccountMappingRequest{UnixAccount: account}, &out, nil)
}

// DeleteAccountMapping removes a workspace's or user's mapping.
func (c *Client) DeleteAccountMapping(ctx context.Context, groupID, kind, id string) error {
	return c.do(ctx, "DELETE", accountPath(groupID, kind, id), nil, nil, nil, nil)
}

// --- Quotas ---

// CreateQuota creates a quota (ResourceAdmin).
func (c *Client) CreateQuota(ctx context.Context, req QuotaRequest) (*QuotaView, error) {
	var out QuotaView
	return &out, c.do(ctx, "POST", "/api/v1/quotas", nil, req, &out, nil)
}

// ListQuotasOptions filters ListQuotas.
type ListQuotasOptions struct {
	// Tree lists root quotas with their children, recursively.
	Tree bool
	// ParentID, when set, lists only the children of that quota ("" for roots).
	ParentID *string
	// OfferedTo lists only the quotas this workspace id may bind.
	OfferedTo string
}

// ListQuotas lists quotas with their usage (ResourceAdmin).
func (c *Client) ListQuotas(ctx context.Context, opt ListQuotasOptions) (*List[*QuotaView], error) {
	q := url.Values{}
	if opt.Tree {
		q.Set("layout", "tree")
	}
	if opt.ParentID != nil {
		q.Set("parentId", *opt.ParentID)
	}
	if opt.OfferedTo != "" {
		q.Set("offeredTo", opt.OfferedTo)
	}
	var out List[*QuotaView]
	return &out, c.do(ctx, "GET", "/api/v1/quotas", q, nil, &out, nil)
}

func layoutQuery(tree bool) url.Values {
	if tree {
		return url.Values{"layout": {"tree"}}
	}
	return nil
}

// GetQuota reads a quota with its usage; tree adds its subtree.
func (c *Client) GetQuota(ctx context.Context, id string, tree bool) (*QuotaView, error) {
	var out QuotaView
	return &out, c.do(ctx, "GET", "/api/v1/quotas/"+pathEsc(id), layoutQuery(tree), nil, &out, nil)
}

// UpdateQuota replaces a quota's changeable fields (start from QuotaView.Request).
func (c *Client) UpdateQuota(ctx context.Context, id string, req QuotaRequest) (*QuotaView, error) {
	var out QuotaView
	return &out, c.do(ctx, "PUT", "/api/v1/quotas/"+pathEsc(id), nil, req, &out, nil)
}

// DeleteQuota deletes a quota without children or bindings.
func (c *Client) DeleteQuota(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/api/v1/quotas/"+pathEsc(id), nil, nil, nil, nil)
}

// ListWorkspaceQuotas lists the quotas a workspace may use (bound or
// offered to all); offered lists instead those offered to it but not bound.
func (c *Client) ListWorkspaceQuotas(ctx context.Context, workspaceID string, offered bool) (*List[*QuotaView], error) {
	var q url.Values
	if offered {
		q = url.Values{"offered": {"true"}}
	}
	var out List[*QuotaView]
	return &out, c.do(ctx, "GET", wsPath(workspaceID)+"/quotas", q, nil, &out, nil)
}

// GetWorkspaceQuota reads a quota the workspace may use; tree adds its subtree.
func (c *Client) GetWorkspaceQuota(ctx context.Context, workspaceID, quotaID string, tree bool) (*QuotaView, error) {
	var out QuotaView
	return &out, c.do(ctx, "GET", wsPath(workspaceID)+"/quotas/"+pathEsc(quotaID), layoutQuery(tree), nil, &out, nil)
}

// BindQuota binds a quota offered to the workspace.
func (c *Client) BindQuota(ctx context.Context, workspaceID, quotaID string) (*atrium.QuotaBinding, error) {
	var out atrium.QuotaBinding
	return &out, c.do(ctx, "POST", wsPath(workspaceID)+"/quotas", nil, BindQuotaRequest{QuotaID: quotaID}, &out, nil)
}

// UnbindQuota unbinds a quota from the workspace.
func (c *Client) UnbindQuota(ctx context.Context, workspaceID, quotaID string) error {
	return c.do(ctx, "DELETE", wsPath(workspaceID)+"/quotas/"+pathEsc(quotaID), nil, nil, nil, nil)
}

// GetWorkspaceConfig reads a workspace's scheduling configuration.
func (c *Client) GetWorkspaceConfig(ctx context.Context, workspaceID string) (*WorkspaceConfigView, error) {
	var out WorkspaceConfigView
	return &out, c.do(ctx, "GET", wsPath(workspaceID)+"/config", nil, nil, &out, nil)
}

// UpdateWorkspaceConfig changes a workspace's configuration; nil fields stay.
func (c *Client) UpdateWorkspaceConfig(ctx context.Context, workspaceID string, req UpdateWorkspaceConfigRequest) (*WorkspaceConfigView, error) {
	var out WorkspaceConfigView
	return &out, c.do(ctx, "PUT", wsPath(workspaceID)+"/config", nil, req, &out, nil)
}

// --- DLC jobs ---

// SubmitJob submits a training job. spec is the job spec as the user wrote
// it, YAML or JSON; it is sent as is, so the server's errors name
// the fields of that document.
func (c *Client) SubmitJob(ctx context.Context, workspaceID string, spec []byte) (*atrium.Job, error) {
	var out atrium.Job
	return &out, c.doRaw(ctx, "POST", wsPath(workspaceID)+"/jobs", nil, "application/yaml", spec, &out, nil)
}

// DryRunJob asks whether and where a job would run now, or why it would
// wait, without creating it.
func (c *Client) DryRunJob(ctx context.Context, workspaceID string, spec []byte) (*DryRunResult, error) {
	var out DryRunResult
	q := url.Values{"dryRun": {"true"}}
	return &out, c.doRaw(ctx, "POST", wsPath(workspaceID)+"/jobs", q, "application/yaml", spec, &out, nil)
}

// ListJobsOptions filters ListJobs.
type ListJobsOptions struct {
	Status  []string // any of these statuses
	Creator string   // creator's user id
	JobType string   // PyTorchJob, TFJob…
	QuotaID string
	PageOptions
}

// ListJobs lists the training jobs the caller may see, newest first.
func (c *Client) ListJobs(ctx context.Context, workspaceID string, opt ListJobsOptions) (*List[*atrium.Job], error) {
	q := url.Values{}
	if len(opt.Status) > 0 {
		q.Set("status", strings.Join(opt.Status, ","))
	}
	for k, v := range map[string]string{"creator": opt.Creator, "jobType": opt.JobType, "quotaId": opt.QuotaID} {
		if v != "" {
			q.Set(k, v)
		}
	}
	opt.PageOptions.set(q)
	var out List[*atrium.Job]
	return &out, c.do(ctx, "GET", wsPath(workspaceID)+"/jobs", q, nil, &out, nil)
}

func jobPath(workspaceID, jobID string) string {
	return wsPath(workspaceID) + "/jobs/" + pathEsc(jobID)
}

// GetJob reads a job: status, reason, statusHistory, queue position, pods.
func (c *Client) GetJob(ctx context.Context, workspaceID, jobID string) (*atrium.Job, error) {
	var out atrium.Job
	return &out, c.do(ctx, "GET", jobPath(workspaceID, jobID), nil, nil, &out, nil)
}

// UpdateJob changes a job's priority, accessibility or description; nil
// fields stay.
func (c *Client) UpdateJob(ctx context.Context, workspaceID, jobID string, req UpdateJobRequest) (*atrium.Job, error) {
	var out atrium.Job
	return &out, c.do(ctx, "PUT", jobPath(workspaceID, jobID), nil, req, &out, nil)
}

// StopJob stops a job: a queued one is Stopped at once, a running one goes
// Stopping, then Stopped.
func (c *Client) StopJob(ctx context.Context, workspaceID, jobID string) (*atrium.Job, error) {
	var out atrium.Job
	return &out, c.do(ctx, "POST", jobPath(workspaceID, jobID)+"/stop", nil, nil, &out, nil)
}

// DeleteJob deletes a finished job.
func (c *Client) DeleteJob(ctx context.Context, workspaceID, jobID string) error {
	return c.do(ctx, "DELETE", jobPath(workspaceID, jobID), nil, nil, nil, nil)
}

// JobEvents lists what happened to a job, oldest first.
func (c *Client) JobEvents(ctx context.Context, workspaceID, jobID string) (*List[*atrium.JobEvent], error) {
	var out List[*atrium.JobEvent]
	return &out, c.do(ctx, "GET", jobPath(workspaceID, jobID)+"/events", nil, nil, &out, nil)
}

// JobLogs copies a job's pod output to w as the server streams it: one pod's
// when pod is set, else every pod's lines prefixed "[pod] ". With follow it
// returns when the pods end (or ctx is done); the HTTP client's timeout
// does not apply to the stream.
func (c *Client) JobLogs(ctx context.Context, workspaceID, jobID, pod string, follow bool, w io.Writer) error {
	return c.logs(ctx, jobPath(workspaceID, jobID), "job", jobID, pod, follow, w)
}

// logs streams the logs of the job or DSW instance at path (noun and id
// name it in errors).
func (c *Client) logs(ctx context.Context, path, noun, jobID, pod string, follow bool, w io.Writer) error {
	q := url.Values{}
	if pod != "" {
		q.Set("pod", pod)
	}
	if follow {
		q.Set("follow", "true")
	}
	resp, err := c.send(ctx, "GET", path+"/logs", q, "", nil, nil, true)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return fmt.Errorf("GET %s logs: reading response: %w", noun, err)
		}
		return decodeProblem(resp, data)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%s %s logs: %w", noun, jobID, err)
	}
	return nil
}

// UsageOptions selects a usage report; zero values take the server's
// defaults (the last 7 days, by user).
type UsageOptions struct {
	From, To time.Time
	// GroupBy is user, quota, gpuType, jobType or (platform-wide only)
	// workspace.
	GroupBy string
	// WorkspaceID narrows the platform-wide report to one workspace.
	WorkspaceID string
}

func (o UsageOptions) query() url.Values {
	q := url.Values{}
	if !o.From.IsZero() {
		q.Set("from", o.From.UTC().Format(time.RFC3339Nano))
	}
	if !o.To.IsZero() {
		q.Set("to", o.To.UTC().Format(time.RFC3339Nano))
	}
	if o.GroupBy != "" {
		q.Set("groupBy", o.GroupBy)
	}
	if o.WorkspaceID != "" {
		q.Set("workspaceId", o.WorkspaceID)
	}
	return q
}

// WorkspaceUsage reads a workspace's GPU-, CPU-core- and memory-hours
// (opt.WorkspaceID is ignored).
func (c *Client) WorkspaceUsage(ctx context.Context, workspaceID string, opt UsageOptions) (*UsageReport, error) {
	opt.WorkspaceID = ""
	var out UsageReport
	return &out, c.do(ctx, "GET", wsPath(workspaceID)+"/usage", opt.query(), nil, &out, nil)
}

// PlatformUsage reads the whole platform's usage (ResourceAdmin).
func (c *Client) PlatformUsage(ctx context.Context, opt UsageOptions) (*UsageReport, error) {
	var out UsageReport
	return &out, c.do(ctx, "GET", "/api/v1/usage", opt.query(), nil, &out, nil)
}
