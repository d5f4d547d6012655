// Package authz is Atrium's one authorizer: the permission table (every
// permission code with its grants per role, ownership and accessibility) and
// the Authorize decision every API handler asks before acting.
package authz

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"atrium"
)

// Scope says on which targets a grant holds.
type Scope uint8

const (
	// Own: targets the caller created or owns.
	Own Scope = 1 << iota
	// Public: targets whose accessibility is PUBLIC.
	Public
	// All: every target in the workspace (or platform).
	All
)

// OwnOrPublic is the usual reach of a developer over assets and jobs.
const OwnOrPublic = Own | Public

func (s Scope) String() string {
	switch {
	case s&All != 0:
		return "All"
	case s == OwnOrPublic:
		return "OwnOrPublic"
	case s == Own:
		return "Own"
	case s == Public:
		return "Public"
	}
	return "None"
}

// ParseScope parses a Scope name as printed by String.
func ParseScope(s string) (Scope, bool) {
	for _, sc := range []Scope{All, OwnOrPublic, Own, Public} {
		if strings.EqualFold(s, sc.String()) {
			return sc, true
		}
	}
	return 0, false
}

// Accessibility values of jobs and assets.
const (
	Private      = "PRIVATE"
	PublicAccess = "PUBLIC"
)

// Level says whether a permission is decided platform-wide or inside a workspace.
type Level string

const (
	Platform  Level = "Platform"
	Workspace Level = "Workspace"
)

// Authenticated is a pseudo-role every signed-in user holds, for
// self-service operations (own tokens, default workspace…).
const Authenticated = "Authenticated"

// Permission is one row of the table.
type Permission struct {
	Code        string `json:"code"`
	Module      string `json:"module"`
	Action      string `json:"action"`
	Level       Level  `json:"level"`
	Description string `json:"description"`
	// Read is the code that decides whether the caller may see the target at
	// all; when it denies, the answer is 404, never 403 (no existence leaks).
	Read string `json:"read,omitempty"`
	// SeparateFromOwner forbids acting on one's own target when the
	// workspace requires it (model approval: requireSeparateApprover).
	SeparateFromOwner bool             `json:"separateFromOwner,omitempty"`
	Grants            map[string]Scope `json:"-"`
}

// Subject is the caller as the authorizer sees it.
type Subject struct {
	UserID        string
	PlatformRoles []string
	// Member is true when the caller belongs to the workspace in question;
	// Roles then holds its roles (built-in and custom names) and Custom the
	// grants of its custom roles.
	Member bool
	Roles  []string
	Custom map[string]Scope
}

// Resource is the target of an operation.
type Resource struct {
	WorkspaceID   string
	Kind          string // "workspace", "member", "job"… for messages
	ID            string
	OwnerID       string // creator/owner; "" when the target has none
	Accessibility string // PRIVATE or PUBLIC; "" when not applicable
	// RequireSeparateApprover is the workspace setting consulted by
	// permissions marked SeparateFromOwner.
	RequireSeparateApprover bool
}

// Authorizer decides from the table.
type Authorizer struct {
	perms map[string]*Permission
}

// New returns an authorizer over the built-in table.
func New() *Authorizer {
	a := &Authorizer{perms: make(map[string]*Permission, len(table))}
	for _, p := range table {
		a.perms[p.Code] = p
	}
	return a
}

// Lookup returns the permission row for code.
func (a *Authorizer) Lookup(code string) (*Permission, bool) {
	p, ok := a.perms[code]
	return p, ok
}

// Permissions returns the whole table in a stable order.
func (a *Authorizer) Permissions() []*Permission { return table }

// Authorize returns nil when sub may perform code on res; ENOTFOUND when sub
// may not even see the workspace or the target; EFORBIDDEN naming the
// missing permission code otherwise.
func (a *Authorizer) Authorize(sub Subject, code string, res Resource) error {
	p, v := a.decide(&sub, code, &res)
	switch v {
	case allow:
		return nil
	case unknownCode:
		return fmt.Errorf("authz: unknown permission code %q", code) // a programming error: Internal
	case noWorkspace:
		return atrium.Errorf(atrium.ENOTFOUND, "workspace %q not found", res.WorkspaceID)
	case hidden:
		return notFound(res)
	case sameOwner:
		return &atrium.Error{Code: atrium.EFORBIDDEN, Permission: code,
			Message: fmt.Sprintf("permission %s: the workspace requires a separate approver (requireSeparateApprover) and you created this %s", code, res.Kind)}
	}
	return &atrium.Error{Code: atrium.EFORBIDDEN, Permission: code,
		Message: fmt.Sprintf("permission %s is required%s", code, scopeHint(p, sub, res))}
}

// Allowed is Authorize as a bool, for filtering lists and offering actions;
// it builds no error, so it allocates nothing either way.
func (a *Authorizer) Allowed(sub Subject, code string, res Resource) bool {
	_, v := a.decide(&sub, code, &res)
	return v == allow
}

// verdict is a decision before it becomes an error.
type verdict uint8

const (
	allow verdict = iota
	unknownCode
	noWorkspace // not a member: the workspace does not exist for sub
	hidden      // the read code denies: the target does not exist for sub
	forbidden
	sameOwner // requireSeparateApprover and sub created the target
)

// decide is the whole decision; pointers keep the hot path copy-free.
func (a *Authorizer) decide(sub *Subject, code string, res *Resource) (*Permission, verdict) {
	p, ok := a.perms[code]
	if !ok {
		return nil, unknownCode
	}
	if p.Level == Workspace && !sub.Member && !slices.Contains(sub.PlatformRoles, atrium.RoleResourceAdmin) {
		return p, noWorkspace
	}
	if p.Read != "" && p.Read != code && !a.allowed(sub, a.perms[p.Read], res) {
		return p, hidden
	}
	if !a.allowed(sub, p, res) {
		if p.Read == code {
			return p, hidden
		}
		return p, forbidden
	}
	if p.SeparateFromOwner && res.RequireSeparateApprover && res.OwnerID != "" && res.OwnerID == sub.UserID {
		return p, sameOwner
	}
	return p, allow
}

// ScopeOf returns the union of scopes sub holds for code, ignoring targets.
func (a *Authorizer) ScopeOf(sub Subject, code string) Scope {
	p, ok := a.perms[code]
	if !ok {
		return 0
	}
	return a.scope(&sub, p)
}

func (a *Authorizer) scope(sub *Subject, p *Permission) Scope {
	s := p.Grants[Authenticated]
	for _, r := range sub.PlatformRoles {
		s |= p.Grants[r]
	}
	if p.Level == Workspace && sub.Member {
		for _, r := range sub.Roles {
			s |= p.Grants[r]
		}
		s |= sub.Custom[p.Code]
	}
	return s
}

func (a *Authorizer) allowed(sub *Subject, p *Permission, res *Resource) bool {
	s := a.scope(sub, p)
	switch {
	case s&All != 0:
		return true
	case s&Own != 0 && res.OwnerID != "" && res.OwnerID == sub.UserID:
		return true
	case s&Public != 0 && res.Accessibility == PublicAccess:
		return true
	}
	return false
}

func notFound(res Resource) error {
	kind := cmp.Or(res.Kind, "resource")
	if res.ID == "" {
		return atrium.Errorf(atrium.ENOTFOUND, "%s not found", kind)
	}
	return atrium.Errorf(atrium.ENOTFOUND, "%s %q not found", kind, res.ID)
}

// scopeHint explains a denial where the caller holds the code, but not over
// this target (e.g. "only on targets you own").
func scopeHint(p *Permission, sub Subject, res Resource) string {
	s := (&Authorizer{}).scope(&sub, p)
	switch {
	case s == 0:
		return ""
	case s&Own != 0 && s&Public != 0:
		return fmt.Sprintf(" (you hold it only on your own or PUBLIC %ss)", cmp.Or(res.Kind, "target"))
	case s&Own != 0:
		return fmt.Sprintf(" (you hold it only on %ss you created)", cmp.Or(res.Kind, "target"))
	case s&Public != 0:
		return fmt.Sprintf(" (you hold it only on PUBLIC %ss)", cmp.Or(res.Kind, "target"))
	}
	return ""
}

// ParseGrant parses one permission entry of a custom role: "Module:Action"
// (all targets) or "Module:Action@Own|Public|OwnOrPublic". Platform-level
// codes cannot be granted by a workspace role.
func (a *Authorizer) ParseGrant(s string) (code string, scope Scope, err error) {
	code, sc, hasScope := strings.Cut(s, "@")
	p, ok := a.perms[code]
	if !ok {
		return "", 0, fmt.Errorf("unknown permission code %q (see GET /api/v1/permissions)", code)
	}
	if p.Level != Workspace {
		return "", 0, fmt.Errorf("%s is a platform permission and cannot be granted by a workspace role", code)
	}
	scope = All
	if hasScope {
		if scope, ok = ParseScope(sc); !ok {
			return "", 0, fmt.Errorf("unknown scope %q: use Own, Public, OwnOrPublic or All", sc)
		}
	}
	return code, scope, nil
}

// CustomGrants folds the permission entries of custom roles into a grant map.
// Entries that no longer parse are ignored.
func (a *Authorizer) CustomGrants(roles []*atrium.Role) map[string]Scope {
	m := map[string]Scope{}
	for _, r := range roles {
		for _, s := range r.Permissions {
			if code, sc, err := a.ParseGrant(s); err == nil {
				m[code] |= sc
			}
		}
	}
	return m
}

// GrantsOf returns role → scope for code, for printing the table.
func (p *Permission) GrantsOf() map[string]string {
	m := make(map[string]string, len(p.Grants))
	for r, s := range p.Grants {
		m[r] = s.String()
	}
	return m
}
