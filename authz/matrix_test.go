package authz_test

import (
	"strings"
	"testing"

	"atrium"
	"atrium/authz"
)

// expectation is what the permission rules say about one (caller, code, target).
type expectation string

const (
	allow  expectation = ""
	deny   expectation = atrium.EFORBIDDEN
	hidden expectation = atrium.ENOTFOUND
)

type target struct {
	own    bool
	public bool
}

// specSays encodes the permission rules sentence by sentence, independently of table.go.
func specSays(role, code string, tg target) expectation {
	module, action, _ := strings.Cut(code, ":")
	ra := role == atrium.RoleResourceAdmin
	member := role != "" && !ra
	admin := role == atrium.RoleWorkspaceOwner || role == atrium.RoleWorkspaceAdmin
	in := func(rs ...string) bool {
		for _, r := range rs {
			if r == role {
				return true
			}
		}
		return false
	}
	yes := func(b bool) expectation {
		if b {
			return allow
		}
		return deny
	}
	// visible decides 404 before 403: reads first, then the action.
	gated := func(visible bool, may bool) expectation {
		if !visible {
			return hidden
		}
		return yes(may)
	}
	selfService := map[string]bool{"Token:CreateToken": true, "Token:ListTokens": true, "Token:RevokeToken": true,
		"Permission:ListPermissions": true, "Workspace:ListWorkspaces": true, "Workspace:GetDefaultWorkspace": true,
		"Workspace:SetDefaultWorkspace": true, "Platform:GetServer": true}
	switch {
	case selfService[code]:
		if (action == "ListTokens" || action == "RevokeToken") && !tg.own && !ra {
			return deny
		}
		return allow
	case code == "Registry:ListRegistries":
		return allow // names and hosts, to name images by; never credentials
	case code == "User:GetUser":
		return yes(ra || tg.own)
	case module == "User" || module == "ResourceGroup" || module == "Quota" || module == "Platform" ||
		module == "OperationLog" || module == "Registry" || code == "Workspace:CreateWorkspace":
		return yes(ra) // platform engineer's job
	}
	// Inside a workspace: strangers see nothing.
	if !member && !ra {
		return hidden
	}
	// ResourceAdmin sees every workspace but none of a team's assets, jobs or
	// rules: creating or listing them is forbidden, a target is not found.
	raInside := func() expectation {
		if strings.HasPrefix(action, "Create") || strings.HasPrefix(action, "List") {
			return deny
		}
		return hidden
	}
	switch module {
	case "Workspace":
		switch {
		case code == "Workspace:DeleteWorkspace":
			return yes(ra) // "Only ResourceAdmin creates or deletes workspaces"
		case strings.HasPrefix(action, "Get") || strings.HasPrefix(action, "List"):
			return allow // every member reads; ResourceAdmin oversees
		}
		return yes(admin) // Owner/Admin update, manage members, roles, quotas, configs
	case "Dataset", "Model", "Image", "CodeSource", "Algorithm":
		if ra {
			return raInside() // assets are the team's own
		}
		creator := in(atrium.RoleAlgoDeveloper, atrium.RoleAlgoOperator, atrium.RoleLabelManager)
		visible := admin || tg.public || (creator && tg.own)
		switch {
		case action == "CreateLabelingDataset":
			return yes(admin || role == atrium.RoleLabelManager)
		case action == "UpdateLabelingDataset":
			return gated(visible, admin || role == atrium.RoleLabelManager)
		case strings.HasPrefix(action, "Create"):
			return yes(admin || creator)
		case strings.HasPrefix(action, "List"):
			return allow
		case strings.HasPrefix(action, "Get"):
			return gated(visible, true)
		case action == "ApproveModelVersion":
			return gated(visible, admin || role == atrium.RoleAlgoOperator)
		case action == "ChangeOwner":
			return gated(visible, admin) // "Admin alone … change an asset's owner"
		}
		return gated(visible, admin || (creator && tg.own)) // update, delete, publish
	case "DLC", "DSW", "MaxCompute", "Pipeline":
		var creators []string
		switch {
		case module == "DLC" || module == "DSW":
			creators = []string{atrium.RoleAlgoDeveloper, atrium.RoleAlgoOperator}
		case module == "Pipeline":
			creators = []string{atrium.RoleAlgoDeveloper, atrium.RoleAlgoOperator, atrium.RoleMaxComputeDeveloper}
		default:
			creators = []string{atrium.RoleMaxComputeDeveloper}
		}
		creator := in(creators...)
		if strings.HasSuffix(action, "Connection") || strings.HasSuffix(action, "Connections") {
			// Warehouse connections: Admin manages; SQL users and developers read.
			if ra {
				return raInside()
			}
			reader := admin || in(atrium.RoleMaxComputeDeveloper, atrium.RoleAlgoDeveloper, atrium.RoleAlgoOperator)
			if action == "ListConnections" {
				return yes(reader)
			}
			if action == "CreateConnection" {
				return yes(admin)
			}
			return gated(reader, admin || action == "GetConnection")
		}
		if module == "Pipeline" && strings.HasSuffix(action, "Pipeline") || action == "ListPipelines" {
			// Pipeline definitions: Guest reads pipelines.
			if ra {
				return raInside()
			}
			switch {
			case action == "CreatePipeline":
				return yes(admin || creator)
			case action == "ListPipelines" || action == "GetPipeline":
				return allow
			}
			return yes(admin || (creator && tg.own))
		}
		if ra {
			if module == "DSW" {
				// "creates DSW instances anywhere", and uses its own.
				switch {
				case strings.HasPrefix(action, "Create"), strings.HasPrefix(action, "List"), tg.own:
					return allow
				}
				return hidden
			}
			return raInside()
		}
		seesAll := admin || role == atrium.RoleAlgoOperator
		visible := seesAll || tg.public || (creator && tg.own)
		switch {
		case strings.HasPrefix(action, "Create"):
			return yes(admin || creator)
		case strings.HasPrefix(action, "List"):
			return allow
		case strings.HasPrefix(action, "Get"):
			return gated(visible, true)
		}
		return gated(visible, seesAll || (creator && tg.own)) // stop, update (re-prioritise), delete, rerun, start
	case "Alert":
		if ra {
			return raInside()
		}
		jobCreator := in(atrium.RoleAlgoDeveloper, atrium.RoleAlgoOperator, atrium.RoleMaxComputeDeveloper)
		switch action {
		case "CreateRule":
			return yes(admin || (jobCreator && tg.own))
		case "ListRules":
			return yes(admin || jobCreator)
		}
		return gated(admin || (jobCreator && tg.own), true)
	case "Event":
		if ra {
			return raInside()
		}
		return allow
	}
	return "unknown module " + expectation(module)
}

// TestFullMatrix walks every permission code × caller × (own / other's) ×
// (PRIVATE / PUBLIC) and compares the authorizer with specSays.
func TestFullMatrix(t *testing.T) {
	a := authz.New()
	callers := append([]string{atrium.RoleResourceAdmin, ""}, atrium.BuiltinRoles...)
	targets := []target{{true, false}, {true, true}, {false, false}, {false, true}}
	checked := 0
	for _, p := range a.Permissions() {
		for _, role := range callers {
			sub := authz.Subject{UserID: "u-me"}
			switch role {
			case atrium.RoleResourceAdmin:
				sub.PlatformRoles = []string{role}
			case "":
			default:
				sub.Member, sub.Roles = true, []string{role}
			}
			for _, tg := range targets {
				res := authz.Resource{WorkspaceID: "ws-1", Kind: "thing", ID: "x-1", OwnerID: "u-other", Accessibility: authz.Private}
				if tg.own {
					res.OwnerID = "u-me"
				}
				if tg.public {
					res.Accessibility = authz.PublicAccess
				}
				want := specSays(role, p.Code, tg)
				got := expectation(atrium.ErrorCode(a.Authorize(sub, p.Code, res)))
				checked++
				if got != want {
					t.Errorf("%s as %q on %+v: got %q, the rules say %q", p.Code, role, tg, got, want)
				}
			}
		}
	}
	t.Logf("%d decisions checked", checked)
}
