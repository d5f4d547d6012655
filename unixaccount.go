package atrium

import (
	"context"
	"fmt"
	"os/user"
	"regexp"
	"time"
)

// HostImage is the image of a job that runs its command directly on the
// node's host, outside any container: the only image a slurm resource group
// accepts.
const HostImage = "host"

// AcceptsImages reports whether a resource group of backend takes jobs whose
// image is not HostImage. A slurm group does not: its nodes run the command
// on the host (Atrium does not start Slurm's OCI containers), and running a
// job that asked for an image on a shared cluster's hosts would surprise
// its author. The local backend records the image and runs on the host, as
// the job's ImageNotPulled event says.
func AcceptsImages(backend string) bool { return backend != BackendSlurm }

// AccountMapping says which Unix account the jobs of a workspace, or of one
// user in every workspace, run as on a slurm resource group. Exactly one of
// WorkspaceID and UserID is set. A user's mapping wins over their
// workspace's, which wins over the group's DefaultUnixAccount.
type AccountMapping struct {
	GroupID     string    `json:"resourceGroupId"`
	WorkspaceID string    `json:"workspaceId,omitempty"`
	UserID      string    `json:"userId,omitempty"`
	UnixAccount string    `json:"unixAccount"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// AccountMappingFilter selects the mappings of a group; with ForWorkspace
// and ForUser set, only those that can apply to a job of that user in that
// workspace (the user's and the workspace's).
type AccountMappingFilter struct {
	GroupID               string
	ForWorkspace, ForUser string
}

// AccountMappings is the part of the store that resolves Unix accounts.
type AccountMappings interface {
	// FindAccountMappings lists a group's mappings: workspaces first, then
	// users, each by id.
	FindAccountMappings(ctx context.Context, f AccountMappingFilter) ([]*AccountMapping, error)
}

// unixAccountRE is what a Unix account name may look like: a letter or '_'
// first, then letters, digits, '_', '.' or '-' (32 characters at most, as
// useradd allows; names from a directory service may hold capitals or
// dots). Numeric uids are not taken: names say who runs the job.
var unixAccountRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,31}$`)

// ValidateUnixAccount checks an account jobs are to run as: a Unix name
// that is not root. A name this host resolves to uid 0 is root too. field
// names the request field in the error.
func ValidateUnixAccount(field, name string) error {
	if name == "root" || name == "0" {
		return FieldErrorf(field, "must not be root (uid 0): Atrium never runs jobs as root; give a non-root Unix account")
	}
	if !unixAccountRE.MatchString(name) {
		return FieldErrorf(field, "must be a Unix account name: 1–32 letters, digits, '_', '.' or '-', starting with a letter or '_' (got %q)", name)
	}
	if u, err := user.Lookup(name); err == nil && (u.Uid == "0" || u.Gid == "0") {
		return FieldErrorf(field, "must not be root (uid 0) nor in root's group (gid 0): %q is on this host, and Atrium never runs jobs as root; give a non-root Unix account", name)
	}
	return nil
}

// UnixAccountFor picks the account a job of userID in workspaceID runs as
// on group g, from the mappings that apply (see AccountMappingFilter): the
// user's mapping, else the workspace's, else g.DefaultUnixAccount. Groups
// of other backends need none (""). With none to pick, the error is a
// *NoUnixAccountError.
func UnixAccountFor(g *ResourceGroup, mappings []*AccountMapping, workspaceID, userID string) (string, error) {
	if g.Backend != BackendSlurm {
		return "", nil
	}
	byWorkspace := ""
	for _, m := range mappings {
		switch {
		case m.GroupID != g.ID:
		case m.UserID != "" && m.UserID == userID:
			return m.UnixAccount, nil
		case m.WorkspaceID != "" && m.WorkspaceID == workspaceID:
			byWorkspace = m.UnixAccount
		}
	}
	if byWorkspace != "" {
		return byWorkspace, nil
	}
	if g.DefaultUnixAccount != "" {
		return g.DefaultUnixAccount, nil
	}
	return "", &NoUnixAccountError{Group: g.Name, WorkspaceID: workspaceID, UserID: userID}
}

// NoUnixAccountError says that no Unix account applies to a job on a slurm
// group, and how a ResourceAdmin sets one.
type NoUnixAccountError struct {
	Group, WorkspaceID, UserID string
}

func (e *NoUnixAccountError) Error() string {
	return fmt.Sprintf("no Unix account is mapped for workspace %s (or user %s) on Slurm resource group %s, and the group has no default; "+
		"a ResourceAdmin sets one with 'atrium rg account set %s ACCOUNT --workspace %s' (or --user, or --default)",
		e.WorkspaceID, e.UserID, e.Group, e.Group, e.WorkspaceID)
}

// ResolveUnixAccount is UnixAccountFor with the mappings read from st.
func ResolveUnixAccount(ctx context.Context, st AccountMappings, g *ResourceGroup, workspaceID, userID string) (string, error) {
	if g.Backend != BackendSlurm {
		return "", nil
	}
	ms, err := st.FindAccountMappings(ctx, AccountMappingFilter{GroupID: g.ID, ForWorkspace: workspaceID, ForUser: userID})
	if err != nil {
		return "", fmt.Errorf("reading the Unix accounts of resource group %s: %w", g.ID, err)
	}
	return UnixAccountFor(g, ms, workspaceID, userID)
}
