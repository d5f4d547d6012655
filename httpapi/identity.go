package httpapi

import (
	"cmp"
	"strconv"
	"strings"
	"time"

	"atrium"
	"atrium/authz"
	"atrium/secret"
)

// CreateTokenRequest asks for a new API token for the caller.
type CreateTokenRequest struct {
	Name string `json:"name,omitempty"`
	// ExpiresIn is a duration such as "720h"; empty means the token does not expire.
	ExpiresIn string `json:"expiresIn,omitempty"`
}

// CreatedToken is the one response that carries a token's secret.
type CreatedToken struct {
	tokenView
	Token string `json:"token"`
}

type tokenView struct {
	ID         string     `json:"tokenId"`
	Name       string     `json:"name"`
	UserID     string     `json:"userId"`
	ExpiresAt  *time.Time `json:"expiresAt,omitempty"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
	CreatedAt  time.Time  `json:"createdAt"`
}

func newTokenView(t *atrium.Token) *tokenView {
	return &tokenView{ID: t.ID, Name: t.Name, UserID: t.UserID, ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt, CreatedAt: t.CreatedAt}
}

// maxTokenLifetime bounds expiresIn so typos like "87600000h" are caught.
const maxTokenLifetime = 5 * 365 * 24 * time.Hour

func createToken(c *call) (any, error) {
	var req CreateTokenRequest
	if c.r.ContentLength != 0 {
		if err := decodeJSON(c.r, &req); err != nil {
			return nil, err
		}
	}
	if len(req.Name) > 64 {
		return nil, atrium.FieldErrorf("name", "must be at most 64 characters")
	}
	tok := &atrium.Token{UserID: c.user.ID, Name: cmp.Or(req.Name, "token")}
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 || d > maxTokenLifetime {
			return nil, atrium.FieldErrorf("expiresIn", "must be a positive duration such as 24h or 720h, at most 5 years")
		}
		at := c.s.Now().Add(d).UTC().Truncate(time.Second)
		tok.ExpiresAt = &at
	}
	plain := secret.NewToken()
	tok.Hash = secret.HashToken(plain)
	if err := c.s.Store.CreateToken(c.ctx(), tok); err != nil {
		return nil, err
	}
	return CreatedToken{tokenView: *newTokenView(tok), Token: plain}, nil
}

func listTokens(c *call) (any, error) {
	if err := c.authorize("Token:ListTokens", authz.Resource{Kind: "token", OwnerID: c.user.ID}); err != nil {
		return nil, err
	}
	toks, err := c.s.Store.FindTokens(c.ctx(), c.user.ID)
	if err != nil {
		return nil, err
	}
	views := make([]*tokenView, len(toks))
	for i, t := range toks {
		views[i] = newTokenView(t)
	}
	return newList(views, len(views), page{}), nil
}

func revokeToken(c *call) (any, error) {
	// Tokens are looked up among the caller's own, so another user's token
	// id is simply not found.
	if err := c.authorize("Token:RevokeToken", authz.Resource{Kind: "token", ID: c.r.PathValue("tokenId"), OwnerID: c.user.ID}); err != nil {
		return nil, err
	}
	t, err := c.s.Store.RevokeToken(c.ctx(), c.user.ID, c.r.PathValue("tokenId"))
	if err != nil {
		return nil, err
	}
	return newTokenView(t), nil
}

// CreateUserRequest creates a user.
type CreateUserRequest struct {
	Name          string   `json:"name"`
	Password      string   `json:"password"`
	DisplayName   string   `json:"displayName,omitempty"`
	Email         string   `json:"email,omitempty"`
	PlatformRoles []string `json:"platformRoles,omitempty"`
}

// UpdateUserRequest changes a user; absent fields stay.
type UpdateUserRequest struct {
	DisplayName *string `json:"displayName,omitempty"`
	Email       *string `json:"email,omitempty"`
	Password    *string `json:"password,omitempty"`
	Disabled    *bool   `json:"disabled,omitempty"`
}

type userView = atrium.User

func createUser(c *call) (any, error) {
	var req CreateUserRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	if err := atrium.ValidateUserName(req.Name); err != nil {
		return nil, err
	}
	if err := atrium.ValidatePassword(req.Password); err != nil {
		return nil, err
	}
	if err := atrium.ValidateDisplayName("displayName", req.DisplayName); err != nil {
		return nil, err
	}
	if err := atrium.ValidateEmail(req.Email); err != nil {
		return nil, err
	}
	for i, r := range req.PlatformRoles {
		if r != atrium.RoleResourceAdmin {
			return nil, atrium.FieldErrorf("platformRoles["+itoa(i)+"]", "unknown platform role %q; the only one is %s", r, atrium.RoleResourceAdmin)
		}
	}
	hash, err := secret.HashPassword(req.Password)
	if err != nil {
		return nil, err
	}
	u := &atrium.User{Name: req.Name, DisplayName: cmp.Or(req.DisplayName, req.Name), Email: req.Email, PasswordHash: hash, PlatformRoles: req.PlatformRoles}
	if u.PlatformRoles == nil {
		u.PlatformRoles = []string{}
	}
	if err := c.s.Store.CreateUser(c.ctx(), u); err != nil {
		return nil, err
	}
	return u, nil
}

func listUsers(c *call) (any, error) {
	q := c.r.URL.Query()
	p, err := readPage(q)
	if err != nil {
		return nil, err
	}
	users, total, err := c.s.Store.FindUsers(c.ctx(), atrium.UserFilter{NameLike: q.Get("name"), Offset: p.offset, Limit: p.limit})
	if err != nil {
		return nil, err
	}
	return newList(users, total, p), nil
}

func getUser(c *call) (any, error) {
	id := c.r.PathValue("userId")
	if id == "me" {
		id = c.user.ID
	}
	if err := c.authorize("User:GetUser", authz.Resource{Kind: "user", ID: id, OwnerID: id}); err != nil {
		if atrium.ErrorCode(err) == atrium.EFORBIDDEN {
			// Other users' existence is not revealed to non-admins.
			return nil, atrium.Errorf(atrium.ENOTFOUND, "user %q not found", id)
		}
		return nil, err
	}
	return c.s.Store.FindUserByID(c.ctx(), id)
}

func updateUser(c *call) (any, error) {
	var req UpdateUserRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	upd := atrium.UserUpdate{DisplayName: req.DisplayName, Email: req.Email, Disabled: req.Disabled}
	if req.DisplayName != nil {
		if err := atrium.ValidateDisplayName("displayName", *req.DisplayName); err != nil {
			return nil, err
		}
	}
	if req.Email != nil {
		if err := atrium.ValidateEmail(*req.Email); err != nil {
			return nil, err
		}
	}
	if req.Password != nil {
		if err := atrium.ValidatePassword(*req.Password); err != nil {
			return nil, err
		}
		hash, err := secret.HashPassword(*req.Password)
		if err != nil {
			return nil, err
		}
		upd.PasswordHash = &hash
	}
	id := c.r.PathValue("userId")
	if req.Disabled != nil && *req.Disabled && id == c.user.ID {
		return nil, atrium.FieldErrorf("disabled", "you cannot disable yourself")
	}
	return c.s.Store.UpdateUser(c.ctx(), id, upd)
}

type permissionView struct {
	Code              string            `json:"code"`
	Module            string            `json:"module"`
	Action            string            `json:"action"`
	Level             string            `json:"level"`
	Description       string            `json:"description"`
	Read              string            `json:"read,omitempty"`
	SeparateFromOwner bool              `json:"separateFromOwner,omitempty"`
	Grants            map[string]string `json:"grants"`
}

func listPermissions(c *call) (any, error) {
	perms := c.s.Authz.Permissions()
	out := make([]permissionView, len(perms))
	for i, p := range perms {
		out[i] = permissionView{Code: p.Code, Module: p.Module, Action: p.Action, Level: string(p.Level),
			Description: p.Description, Read: p.Read, SeparateFromOwner: p.SeparateFromOwner, Grants: p.GrantsOf()}
	}
	return newList(out, len(out), page{}), nil
}

// DefaultWorkspace is the caller's default workspace.
type DefaultWorkspace struct {
	WorkspaceID string            `json:"workspaceId"`
	Workspace   *atrium.Workspace `json:"workspace,omitempty"`
}

func getDefaultWorkspace(c *call) (any, error) {
	id := c.user.DefaultWorkspaceID
	if id == "" {
		return DefaultWorkspace{}, nil
	}
	ws, err := c.s.Store.FindWorkspaceByID(c.ctx(), id)
	if atrium.ErrorCode(err) == atrium.ENOTFOUND {
		return DefaultWorkspace{}, nil // deleted since
	} else if err != nil {
		return nil, err
	}
	return DefaultWorkspace{WorkspaceID: id, Workspace: ws}, nil
}

func setDefaultWorkspace(c *call) (any, error) {
	var req DefaultWorkspace
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	if req.Workspace != nil {
		return nil, atrium.FieldErrorf("workspace", "is read-only; send workspaceId")
	}
	var ws *atrium.Workspace
	if req.WorkspaceID != "" {
		var err error
		if ws, err = c.s.Store.FindWorkspaceByID(c.ctx(), req.WorkspaceID); err != nil {
			return nil, fieldNotFound(err, "workspaceId")
		}
		if _, err := c.s.Store.FindMemberByUser(c.ctx(), ws.ID, c.user.ID); err != nil {
			return nil, fieldNotFound(err, "workspaceId")
		}
	}
	if _, err := c.s.Store.UpdateUser(c.ctx(), c.user.ID, atrium.UserUpdate{DefaultWorkspaceID: &req.WorkspaceID}); err != nil {
		return nil, err
	}
	return DefaultWorkspace{WorkspaceID: req.WorkspaceID, Workspace: ws}, nil
}

// fieldNotFound turns a not-found into a 400 naming the field that pointed at it.
func fieldNotFound(err error, field string) error {
	if atrium.ErrorCode(err) == atrium.ENOTFOUND {
		return atrium.FieldErrorf(field, "%s (you must be a member)", strings.TrimSuffix(atrium.ErrorMessage(err), "."))
	}
	return err
}

func itoa(i int) string { return strconv.Itoa(i) }
