package atrium

import (
	"regexp"
	"time"
)

// Built-in workspace roles.
const (
	RoleWorkspaceOwner      = "WorkspaceOwner"
	RoleWorkspaceAdmin      = "WorkspaceAdmin"
	RoleAlgoDeveloper       = "AlgoDeveloper"
	RoleAlgoOperator        = "AlgoOperator"
	RoleLabelManager        = "LabelManager"
	RoleWorkspaceGuest      = "WorkspaceGuest"
	RoleMaxComputeDeveloper = "MaxComputeDeveloper"
)

// BuiltinRoles lists the built-in workspace roles in display order.
var BuiltinRoles = []string{
	RoleWorkspaceOwner, RoleWorkspaceAdmin, RoleAlgoDeveloper, RoleAlgoOperator,
	RoleLabelManager, RoleWorkspaceGuest, RoleMaxComputeDeveloper,
}

// IsBuiltinRole reports whether name is one of the seven built-in roles.
func IsBuiltinRole(name string) bool {
	for _, r := range BuiltinRoles {
		if r == name {
			return true
		}
	}
	return false
}

// Member is a user's membership of a workspace.
type Member struct {
	ID          string    `json:"memberId"`
	WorkspaceID string    `json:"workspaceId"`
	UserID      string    `json:"userId"`
	UserName    string    `json:"userName"`
	DisplayName string    `json:"displayName"`
	Roles       []string  `json:"roles"`
	CreatedAt   time.Time `json:"createdAt"`
}

// HasRole reports whether the member holds role.
func (m *Member) HasRole(role string) bool {
	for _, r := range m.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// MemberParams is one user to add with the roles to grant. The API also
// accepts the user's name instead of the id, so team leads need not look ids up.
type MemberParams struct {
	UserID   string   `json:"userId,omitempty"`
	UserName string   `json:"userName,omitempty"`
	Roles    []string `json:"roles"`
}

// MemberFilter selects members of one workspace.
type MemberFilter struct {
	WorkspaceID string
	UserID      *string
	Role        string // only members holding this role
	NameLike    string // case-insensitive substring of user name or display name
	Offset      int
	Limit       int
}

// Role is a custom workspace role: a named set of permission codes.
type Role struct {
	WorkspaceID string    `json:"workspaceId"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Permissions []string  `json:"permissions"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// RoleUpdate replaces the changeable parts of a custom role; nil means unchanged.
type RoleUpdate struct {
	Description *string
	Permissions []string
}

var roleNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{1,47}$`)

// ValidateRoleName checks a custom role name; it may not shadow a built-in role.
func ValidateRoleName(name string) error {
	if !roleNameRE.MatchString(name) {
		return FieldErrorf("name", "must be 2–48 characters of letters, digits, '_' or '-', starting with a letter")
	}
	if IsBuiltinRole(name) || name == RoleResourceAdmin {
		return FieldErrorf("name", "%q is a built-in role", name)
	}
	return nil
}
