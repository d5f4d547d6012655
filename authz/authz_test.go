package authz_test

import (
	"testing"

	"atrium"
	"atrium/authz"
)

// The expectations below are written from the permission rules' sentences, not from the
// table, so a wrong table row fails here.
func TestSpecRules(t *testing.T) {
	a := authz.New()
	const me, other = "u-me", "u-other"
	member := func(roles ...string) authz.Subject {
		return authz.Subject{UserID: me, Member: true, Roles: roles}
	}
	mine := authz.Resource{WorkspaceID: "ws-1", Kind: "dataset", ID: "d-1", OwnerID: me, Accessibility: authz.Private}
	theirs := authz.Resource{WorkspaceID: "ws-1", Kind: "dataset", ID: "d-2", OwnerID: other, Accessibility: authz.Private}
	public := authz.Resource{WorkspaceID: "ws-1", Kind: "dataset", ID: "d-3", OwnerID: other, Accessibility: authz.PublicAccess}
	none := authz.Resource{WorkspaceID: "ws-1"}

	tests := []struct {
		name string
		sub  authz.Subject
		code string
		res  authz.Resource
		want string // "" allowed, else the error code
	}{
		{"guest reads workspace", member(atrium.RoleWorkspaceGuest), "Workspace:GetWorkspace", none, ""},
		{"guest adds member", member(atrium.RoleWorkspaceGuest), "Workspace:CreateMember", none, atrium.EFORBIDDEN},
		{"developer adds member", member(atrium.RoleAlgoDeveloper), "Workspace:CreateMember", none, atrium.EFORBIDDEN},
		{"admin adds member", member(atrium.RoleWorkspaceAdmin), "Workspace:CreateMember", none, ""},
		{"owner updates workspace", member(atrium.RoleWorkspaceOwner), "Workspace:UpdateWorkspace", none, ""},
		{"owner cannot delete workspace", member(atrium.RoleWorkspaceOwner), "Workspace:DeleteWorkspace", none, atrium.EFORBIDDEN},
		{"non-member reads workspace", authz.Subject{UserID: me}, "Workspace:GetWorkspace", none, atrium.ENOTFOUND},
		{"resource admin reads any workspace", authz.Subject{UserID: me, PlatformRoles: []string{atrium.RoleResourceAdmin}}, "Workspace:GetWorkspace", none, ""},
		{"resource admin deletes workspace", authz.Subject{UserID: me, PlatformRoles: []string{atrium.RoleResourceAdmin}}, "Workspace:DeleteWorkspace", none, ""},
		{"resource admin does not add members to a foreign workspace", authz.Subject{UserID: me, PlatformRoles: []string{atrium.RoleResourceAdmin}}, "Workspace:CreateMember", none, atrium.EFORBIDDEN},
		{"only resource admin creates workspaces", member(atrium.RoleWorkspaceOwner), "Workspace:CreateWorkspace", none, atrium.EFORBIDDEN},
		{"only resource admin creates users", authz.Subject{UserID: me}, "User:CreateUser", none, atrium.EFORBIDDEN},

		{"developer creates dataset", member(atrium.RoleAlgoDeveloper), "Dataset:CreateDataset", none, ""},
		{"label manager creates dataset", member(atrium.RoleLabelManager), "Dataset:CreateDataset", none, ""},
		{"guest cannot create dataset", member(atrium.RoleWorkspaceGuest), "Dataset:CreateDataset", none, atrium.EFORBIDDEN},
		{"mc developer cannot create dataset", member(atrium.RoleMaxComputeDeveloper), "Dataset:CreateDataset", none, atrium.EFORBIDDEN},
		{"developer reads own private", member(atrium.RoleAlgoDeveloper), "Dataset:GetDataset", mine, ""},
		{"developer cannot see other's private", member(atrium.RoleAlgoDeveloper), "Dataset:GetDataset", theirs, atrium.ENOTFOUND},
		{"operator cannot see other's private asset", member(atrium.RoleAlgoOperator), "Dataset:GetDataset", theirs, atrium.ENOTFOUND},
		{"developer reads public", member(atrium.RoleAlgoDeveloper), "Dataset:GetDataset", public, ""},
		{"guest reads public", member(atrium.RoleWorkspaceGuest), "Dataset:GetDataset", public, ""},
		{"guest cannot read own-looking private", member(atrium.RoleWorkspaceGuest), "Dataset:GetDataset", mine, atrium.ENOTFOUND},
		{"admin reads other's private", member(atrium.RoleWorkspaceAdmin), "Dataset:GetDataset", theirs, ""},
		{"developer updates own", member(atrium.RoleAlgoDeveloper), "Dataset:UpdateDataset", mine, ""},
		{"developer cannot update other's public", member(atrium.RoleAlgoDeveloper), "Dataset:UpdateDataset", public, atrium.EFORBIDDEN},
		{"developer publishes own", member(atrium.RoleAlgoDeveloper), "Dataset:PublishDataset", mine, ""},
		{"developer cannot change owner", member(atrium.RoleAlgoDeveloper), "Dataset:ChangeOwner", mine, atrium.EFORBIDDEN},
		{"admin changes owner", member(atrium.RoleWorkspaceAdmin), "Model:ChangeOwner", theirs, ""},
		{"developer cannot create labeling dataset", member(atrium.RoleAlgoDeveloper), "Dataset:CreateLabelingDataset", none, atrium.EFORBIDDEN},
		{"label manager creates labeling dataset", member(atrium.RoleLabelManager), "Dataset:CreateLabelingDataset", none, ""},

		{"operator approves", member(atrium.RoleAlgoOperator), "Model:ApproveModelVersion", public, ""},
		{"developer cannot approve", member(atrium.RoleAlgoDeveloper), "Model:ApproveModelVersion", public, atrium.EFORBIDDEN},
		{"no self-approval when separate approver required", member(atrium.RoleWorkspaceAdmin), "Model:ApproveModelVersion",
			authz.Resource{WorkspaceID: "ws-1", Kind: "model version", OwnerID: me, RequireSeparateApprover: true}, atrium.EFORBIDDEN},
		{"self-approval allowed when setting off", member(atrium.RoleWorkspaceAdmin), "Model:ApproveModelVersion",
			authz.Resource{WorkspaceID: "ws-1", Kind: "model version", OwnerID: me}, ""},

		{"developer submits job", member(atrium.RoleAlgoDeveloper), "DLC:CreateJob", none, ""},
		{"mc developer cannot submit DLC job", member(atrium.RoleMaxComputeDeveloper), "DLC:CreateJob", none, atrium.EFORBIDDEN},
		{"guest cannot submit job", member(atrium.RoleWorkspaceGuest), "DLC:CreateJob", none, atrium.EFORBIDDEN},
		{"developer stops own job", member(atrium.RoleAlgoDeveloper), "DLC:StopJob", mine, ""},
		{"developer cannot stop other's public job", member(atrium.RoleAlgoDeveloper), "DLC:StopJob", public, atrium.EFORBIDDEN},
		{"developer cannot see other's private job", member(atrium.RoleAlgoDeveloper), "DLC:StopJob", theirs, atrium.ENOTFOUND},
		{"operator stops any job", member(atrium.RoleAlgoOperator), "DLC:StopJob", theirs, ""},
		{"operator re-prioritises any job", member(atrium.RoleAlgoOperator), "DLC:UpdateJob", theirs, ""},
		{"guest sees public job", member(atrium.RoleWorkspaceGuest), "DLC:GetJob", public, ""},
		{"guest does not see private job", member(atrium.RoleWorkspaceGuest), "DLC:GetJob", theirs, atrium.ENOTFOUND},
		{"mc developer submits SQL job", member(atrium.RoleMaxComputeDeveloper), "MaxCompute:CreateSQLJob", none, ""},
		{"developer cannot submit SQL job", member(atrium.RoleAlgoDeveloper), "MaxCompute:CreateSQLJob", none, atrium.EFORBIDDEN},
		{"mc developer runs pipelines", member(atrium.RoleMaxComputeDeveloper), "Pipeline:CreateRun", none, ""},
		{"guest reads pipelines", member(atrium.RoleWorkspaceGuest), "Pipeline:GetPipeline", theirs, ""},
		{"resource admin creates DSW anywhere", authz.Subject{UserID: me, PlatformRoles: []string{atrium.RoleResourceAdmin}}, "DSW:CreateInstance", none, ""},

		{"developer creates rule on own resources", member(atrium.RoleAlgoDeveloper), "Alert:CreateRule", authz.Resource{WorkspaceID: "ws-1", OwnerID: me}, ""},
		{"developer cannot create workspace-wide rule", member(atrium.RoleAlgoDeveloper), "Alert:CreateRule", none, atrium.EFORBIDDEN},
		{"admin creates workspace-wide rule", member(atrium.RoleWorkspaceAdmin), "Alert:CreateRule", none, ""},
		{"guest cannot create rules", member(atrium.RoleWorkspaceGuest), "Alert:CreateRule", authz.Resource{WorkspaceID: "ws-1", OwnerID: me}, atrium.EFORBIDDEN},

		{"custom role grants code", authz.Subject{UserID: me, Member: true, Roles: []string{"Reviewer"}, Custom: map[string]authz.Scope{"Model:GetModel": authz.Public, "Model:ApproveModelVersion": authz.All}}, "Model:ApproveModelVersion", public, ""},
		{"custom role own scope", authz.Subject{UserID: me, Member: true, Roles: []string{"R"}, Custom: map[string]authz.Scope{"DLC:CreateJob": authz.All, "DLC:GetJob": authz.Own, "DLC:StopJob": authz.Own}}, "DLC:StopJob", theirs, atrium.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := a.Authorize(tt.sub, tt.code, tt.res)
			if got := atrium.ErrorCode(err); got != tt.want {
				t.Fatalf("Authorize(%s) = %v (code %q), want %q", tt.code, err, got, tt.want)
			}
			if tt.want == atrium.EFORBIDDEN && atrium.AsError(err).Permission != tt.code {
				t.Fatalf("denial names %q, want %q", atrium.AsError(err).Permission, tt.code)
			}
		})
	}
}

func TestTableIsConsistent(t *testing.T) {
	a := authz.New()
	seen := map[string]bool{}
	for _, p := range a.Permissions() {
		if seen[p.Code] {
			t.Errorf("duplicate code %s", p.Code)
		}
		seen[p.Code] = true
		if p.Read != "" {
			if _, ok := a.Lookup(p.Read); !ok {
				t.Errorf("%s: read code %s is not in the table", p.Code, p.Read)
			}
		}
		if len(p.Grants) == 0 {
			t.Errorf("%s: nobody holds it", p.Code)
		}
		if p.Module+":"+p.Action != p.Code {
			t.Errorf("%s: module/action split wrong", p.Code)
		}
	}
	// Every module the permission rules name has rows, including those whose endpoints come later.
	for _, m := range []string{"Workspace", "Dataset", "Model", "Image", "CodeSource", "Algorithm", "DLC", "DSW", "Pipeline", "MaxCompute", "Alert", "Quota", "ResourceGroup", "User", "Token"} {
		found := false
		for c := range seen {
			if len(c) > len(m) && c[:len(m)+1] == m+":" {
				found = true
			}
		}
		if !found {
			t.Errorf("module %s has no permission codes", m)
		}
	}
}

func TestParseGrant(t *testing.T) {
	a := authz.New()
	if _, sc, err := a.ParseGrant("DLC:StopJob@Own"); err != nil || sc != authz.Own {
		t.Fatalf("ParseGrant own = %v, %v", sc, err)
	}
	if _, sc, err := a.ParseGrant("DLC:StopJob"); err != nil || sc != authz.All {
		t.Fatalf("ParseGrant bare = %v, %v", sc, err)
	}
	for _, bad := range []string{"DLC:Nope", "User:CreateUser", "DLC:StopJob@Mine", ""} {
		if _, _, err := a.ParseGrant(bad); err == nil {
			t.Errorf("ParseGrant(%q) accepted", bad)
		}
	}
}
