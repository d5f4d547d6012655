package atrium

import (
	"context"
	"regexp"
	"slices"
	"time"
	"unicode/utf8"
)

// Workspace statuses.
const (
	WorkspaceEnabled = "ENABLED"
)

// Workspace is a team's shared space: members, quotas, assets and jobs.
type Workspace struct {
	ID          string    `json:"workspaceId"`
	Name        string    `json:"name"`
	DisplayName string    `json:"displayName"`
	Description string    `json:"description"`
	EnvTypes    []string  `json:"envTypes"`
	Status      string    `json:"status"`
	Creator     string    `json:"creator"` // user id of the creator, the first WorkspaceOwner
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

var workspaceNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{2,22}$`)

// Validate checks the rules of a new workspace.
func (w *Workspace) Validate() error {
	if !workspaceNameRE.MatchString(w.Name) {
		return FieldErrorf("name", "must be 3–23 characters of letters, digits or '_', starting with a letter")
	}
	if err := ValidateDisplayName("displayName", w.DisplayName); err != nil {
		return err
	}
	if err := ValidateDescription(w.Description); err != nil {
		return err
	}
	switch {
	case slices.Equal(w.EnvTypes, []string{"prod"}), slices.Equal(w.EnvTypes, []string{"dev", "prod"}):
	case len(w.EnvTypes) == 0:
		return FieldErrorf("envTypes", `is required: ["prod"] or ["dev","prod"]`)
	default:
		return FieldErrorf("envTypes", `must be ["prod"] or ["dev","prod"]`)
	}
	return nil
}

// ValidateDescription checks the workspace description rule.
func ValidateDescription(s string) error {
	if utf8.RuneCountInString(s) > 80 {
		return FieldErrorf("description", "must be at most 80 characters")
	}
	return nil
}

// WorkspaceFilter selects workspaces.
type WorkspaceFilter struct {
	IDs      []string // only these ids when non-nil
	MemberID string   // only workspaces where this user id is a member
	Name     *string
	NameLike string // case-insensitive substring of name or display name
	Status   *string
	SortBy   string // "name" (default), "createdAt"
	Desc     bool
	Offset   int
	Limit    int
}

// WorkspaceUpdate holds the changeable fields; nil means unchanged.
type WorkspaceUpdate struct {
	DisplayName *string
	Description *string
}

// WorkspaceService manages workspaces, members and custom roles.
type WorkspaceService interface {
	// CreateWorkspace inserts w and makes its creator a WorkspaceOwner member,
	// in one transaction. ECONFLICT if the name is taken.
	CreateWorkspace(ctx context.Context, w *Workspace) error
	// FindWorkspaceByID returns ENOTFOUND if there is no such workspace.
	FindWorkspaceByID(ctx context.Context, id string) (*Workspace, error)
	// FindWorkspaces returns a page and the total count.
	FindWorkspaces(ctx context.Context, f WorkspaceFilter) ([]*Workspace, int, error)
	// UpdateWorkspace returns ENOTFOUND if there is no such workspace.
	UpdateWorkspace(ctx context.Context, id string, upd WorkspaceUpdate) (*Workspace, error)
	// DeleteWorkspace removes the workspace, its members and custom roles;
	// operation logs are kept. ENOTFOUND if absent.
	DeleteWorkspace(ctx context.Context, id string) error

	// AddMembers adds users with roles, all or none. ENOTFOUND for an unknown
	// user id, ECONFLICT if one is already a member, EINVALID for an unknown role.
	AddMembers(ctx context.Context, workspaceID string, ms []MemberParams) ([]*Member, error)
	// FindMemberByID returns ENOTFOUND if absent.
	FindMemberByID(ctx context.Context, workspaceID, memberID string) (*Member, error)
	// FindMemberByUser returns ENOTFOUND if the user is not a member.
	FindMemberByUser(ctx context.Context, workspaceID, userID string) (*Member, error)
	// FindMembers returns a page ordered by user name and the total count.
	FindMembers(ctx context.Context, f MemberFilter) ([]*Member, int, error)
	// DeleteMember removes a member; ECONFLICT if it is the last WorkspaceOwner.
	DeleteMember(ctx context.Context, workspaceID, memberID string) error
	// AddMemberRole grants a role (idempotent); EINVALID for an unknown role.
	AddMemberRole(ctx context.Context, workspaceID, memberID, role string) (*Member, error)
	// RemoveMemberRole revokes a role; ECONFLICT when it would leave the
	// workspace without an owner or the member without any role.
	RemoveMemberRole(ctx context.Context, workspaceID, memberID, role string) (*Member, error)

	// CreateRole inserts a custom role. ECONFLICT if the name is taken.
	CreateRole(ctx context.Context, r *Role) error
	// FindRoles lists the workspace's custom roles by name.
	FindRoles(ctx context.Context, workspaceID string) ([]*Role, error)
	// FindRole returns ENOTFOUND if absent.
	FindRole(ctx context.Context, workspaceID, name string) (*Role, error)
	// UpdateRole replaces description and permissions; ENOTFOUND if absent.
	UpdateRole(ctx context.Context, workspaceID, name string, upd RoleUpdate) (*Role, error)
	// DeleteRole removes a custom role; ECONFLICT while members hold it.
	DeleteRole(ctx context.Context, workspaceID, name string) error
}
