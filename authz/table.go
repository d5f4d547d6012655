package authz

import (
	"slices"
	"strings"
)

// Role shorthands for the table.
const (
	ra    = "ResourceAdmin"
	owner = "WorkspaceOwner"
	admin = "WorkspaceAdmin"
	dev   = "AlgoDeveloper"
	op    = "AlgoOperator"
	label = "LabelManager"
	guest = "WorkspaceGuest"
	mc    = "MaxComputeDeveloper"
)

// grant gives scope s to roles.
type grant struct {
	s     Scope
	roles []string
}

func g(s Scope, roles ...string) grant { return grant{s, roles} }

var everyone = []string{owner, admin, dev, op, label, guest, mc}

// perm builds one row. Owner and Admin hold every workspace permission on all
// targets, so workspace rows need not list them.
func perm(level Level, code, read, desc string, grants ...grant) *Permission {
	module, action, _ := strings.Cut(code, ":")
	p := &Permission{Code: code, Module: module, Action: action, Level: level, Description: desc, Read: read, Grants: map[string]Scope{}}
	if level == Workspace && !platformOnly[code] {
		p.Grants[owner], p.Grants[admin] = All, All
	}
	for _, gr := range grants {
		for _, r := range gr.roles {
			p.Grants[r] |= gr.s
		}
	}
	return p
}

// platformOnly lists workspace-level codes that even the workspace's Owner
// and Admin do not hold.
var platformOnly = map[string]bool{"Workspace:DeleteWorkspace": true}

func ws(code, read, desc string, grants ...grant) *Permission {
	return perm(Workspace, code, read, desc, grants...)
}

func pf(code, desc string, grants ...grant) *Permission {
	return perm(Platform, code, "", desc, grants...)
}

// asset returns the rows shared by every asset kind:
// Developer, Operator and LabelManager create; everyone lists own + PUBLIC;
// PRIVATE reads are creator + Admin; update, delete and publish are creator
// + Admin; Guest reads PUBLIC only; Admin alone changes the owner.
func asset(module, noun, kind string) []*Permission {
	get := module + ":Get" + noun
	return []*Permission{
		ws(module+":Create"+noun, "", "Create a "+kind, g(All, dev, op, label)),
		ws(module+":List"+noun+"s", "", "List "+kind+"s (own and PUBLIC; Admin sees all)", g(All, everyone...)),
		ws(get, get, "Read a "+kind, g(OwnOrPublic, dev, op, label), g(Public, guest, mc)),
		ws(module+":Update"+noun, get, "Update a "+kind+" or its versions", g(Own, dev, op, label)),
		ws(module+":Delete"+noun, get, "Delete a "+kind+" or its versions", g(Own, dev, op, label)),
		ws(module+":Publish"+noun, get, "Make a "+kind+" PUBLIC (never back)", g(Own, dev, op, label)),
		ws(module+":ChangeOwner", get, "Give a "+kind+" to another member"),
	}
}

// run returns the rows of a kind of job: creators see and
// stop their own, everyone sees PUBLIC ones, Operator and Admin see, stop and
// re-prioritise all.
func run(module, noun, kind string, creators ...string) []*Permission {
	get := module + ":Get" + noun
	others := []string{}
	for _, r := range everyone {
		if r != owner && r != admin && r != op && !slices.Contains(creators, r) {
			others = append(others, r)
		}
	}
	return []*Permission{
		ws(module+":Create"+noun, "", "Submit a "+kind, g(All, creators...)),
		ws(module+":List"+noun+"s", "", "List "+kind+"s (own and PUBLIC; Operator and Admin see all)", g(All, everyone...)),
		ws(get, get, "Read a "+kind+", its events and logs", g(All, op), g(OwnOrPublic, creators...), g(Public, others...)),
		ws(module+":Stop"+noun, get, "Stop a "+kind, g(All, op), g(Own, creators...)),
		ws(module+":Update"+noun, get, "Change a "+kind+"'s priority, description or accessibility", g(All, op), g(Own, creators...)),
		ws(module+":Delete"+noun, get, "Delete a finished "+kind, g(All, op), g(Own, creators...)),
	}
}

// raOwns lets ResourceAdmin create and list (code create and List*, in
// every workspace) and act on its own targets in every other row of ps;
// lists show it only what the read code lets it see: its own.
func raOwns(ps []*Permission, create string) []*Permission {
	for _, p := range ps {
		if p.Code == create || strings.HasPrefix(p.Action, "List") {
			p.Grants[ra] |= All
		} else {
			p.Grants[ra] |= Own
		}
	}
	return ps
}

func rows(groups ...[]*Permission) []*Permission {
	var out []*Permission
	for _, gr := range groups {
		out = append(out, gr...)
	}
	return out
}

// table is the permission table, the single source of every decision.
var table = rows(
	[]*Permission{
		// Platform: identity.
		pf("User:CreateUser", "Create a user", g(All, ra)),
		pf("User:ListUsers", "List users", g(All, ra)),
		pf("User:GetUser", "Read a user", g(All, ra), g(Own, Authenticated)),
		pf("User:UpdateUser", "Change a user's profile, password or disabled flag", g(All, ra)),
		pf("Token:CreateToken", "Mint an API token for oneself", g(All, Authenticated)),
		pf("Token:ListTokens", "List one's own API tokens", g(Own, Authenticated), g(All, ra)),
		pf("Token:RevokeToken", "Revoke an API token", g(Own, Authenticated), g(All, ra)),
		pf("Permission:ListPermissions", "Read the permission table", g(All, Authenticated)),
		pf("Platform:GetServer", "Read what the server runs jobs in and whether they are isolated", g(All, Authenticated)),
		// Platform: workspaces, compute and configuration.
		pf("Workspace:CreateWorkspace", "Create a workspace", g(All, ra)),
		pf("Workspace:ListWorkspaces", "List the workspaces one belongs to (ResourceAdmin: all)", g(All, Authenticated)),
		pf("Workspace:GetDefaultWorkspace", "Read one's default workspace", g(All, Authenticated)),
		pf("Workspace:SetDefaultWorkspace", "Set one's default workspace", g(All, Authenticated)),
		pf("OperationLog:ListPlatformOperationLogs", "Read the platform-wide operation log", g(All, ra)),
		pf("ResourceGroup:CreateResourceGroup", "Register a resource group", g(All, ra)),
		pf("ResourceGroup:ListResourceGroups", "List resource groups", g(All, ra)),
		pf("ResourceGroup:GetResourceGroup", "Read a resource group and its nodes", g(All, ra)),
		pf("ResourceGroup:UpdateResourceGroup", "Change a resource group or its nodes", g(All, ra)),
		pf("ResourceGroup:DeleteResourceGroup", "Delete a resource group", g(All, ra)),
		pf("ResourceGroup:ListAccounts", "Read which Unix accounts a slurm group's jobs run as", g(All, ra)),
		pf("ResourceGroup:UpdateAccounts", "Set which Unix accounts a slurm group's jobs run as (default, per workspace, per user)", g(All, ra)),
		pf("Quota:CreateQuota", "Create a quota", g(All, ra)),
		pf("Quota:ListQuotas", "List all quotas", g(All, ra)),
		pf("Quota:GetQuota", "Read any quota and its usage", g(All, ra)),
		pf("Quota:UpdateQuota", "Change a quota or offer it to workspaces", g(All, ra)),
		pf("Quota:DeleteQuota", "Delete a quota", g(All, ra)),
		// Image registries: ResourceAdmin registers them with credentials;
		// every signed-in user may list names and hosts (to name images),
		// never credentials.
		pf("Registry:CreateRegistry", "Register an image registry and its pull credentials", g(All, ra)),
		pf("Registry:ListRegistries", "List image registries: names and hosts, never credentials", g(All, Authenticated)),
		pf("Registry:GetRegistry", "Read an image registry (hasPassword, never the password)", g(All, ra)),
		pf("Registry:UpdateRegistry", "Change an image registry or its credentials", g(All, ra)),
		pf("Registry:DeleteRegistry", "Delete an image registry", g(All, ra)),
		pf("Platform:GetConfig", "Read the platform configuration", g(All, ra)),
		pf("Platform:UpdateConfig", "Change the platform configuration (SMTP…)", g(All, ra)),
	},
	[]*Permission{
		// Workspace: every member reads; Owner/Admin manage.
		ws("Workspace:GetWorkspace", "Workspace:GetWorkspace", "Read the workspace", g(All, everyone...), g(All, ra)),
		ws("Workspace:UpdateWorkspace", "Workspace:GetWorkspace", "Change the workspace's display name or description"),
		ws("Workspace:DeleteWorkspace", "Workspace:GetWorkspace", "Delete the workspace", g(All, ra)),
		ws("Workspace:ListMembers", "", "List members and their roles", g(All, everyone...), g(All, ra)),
		ws("Workspace:GetMember", "Workspace:ListMembers", "Read a member", g(All, everyone...), g(All, ra)),
		ws("Workspace:CreateMember", "Workspace:ListMembers", "Add members"),
		ws("Workspace:DeleteMember", "Workspace:ListMembers", "Remove a member"),
		ws("Workspace:CreateMemberRole", "Workspace:ListMembers", "Grant a member a role"),
		ws("Workspace:DeleteMemberRole", "Workspace:ListMembers", "Revoke a member's role"),
		ws("Workspace:ListRoles", "", "List roles and their permissions", g(All, everyone...), g(All, ra)),
		ws("Workspace:GetRole", "Workspace:ListRoles", "Read a role", g(All, everyone...), g(All, ra)),
		ws("Workspace:CreateRole", "Workspace:ListRoles", "Create a custom role"),
		ws("Workspace:UpdateRole", "Workspace:ListRoles", "Change a custom role"),
		ws("Workspace:DeleteRole", "Workspace:ListRoles", "Delete a custom role"),
		ws("Workspace:ListOperationLogs", "", "Read the workspace operation log", g(All, everyone...), g(All, ra)),
		ws("Workspace:GetConfig", "", "Read the workspace configuration", g(All, everyone...), g(All, ra)),
		ws("Workspace:UpdateConfig", "Workspace:GetConfig", "Change the workspace configuration"),
		ws("Workspace:ListResources", "", "List resources and quotas bound to the workspace", g(All, everyone...), g(All, ra)),
		ws("Workspace:BindQuota", "Workspace:ListResources", "Bind an offered quota to the workspace"),
		ws("Workspace:UnbindQuota", "Workspace:ListResources", "Unbind a quota from the workspace"),
	},
	asset("Dataset", "Dataset", "dataset"),
	[]*Permission{
		ws("Dataset:CreateLabelingDataset", "", "Create a labeling dataset", g(All, label)),
		ws("Dataset:UpdateLabelingDataset", "Dataset:GetDataset", "Change a labeling dataset", g(All, label)),
	},
	asset("Model", "Model", "model"),
	[]*Permission{
		func() *Permission {
			p := ws("Model:ApproveModelVersion", "Model:GetModel", "Approve or reject a model version", g(All, op))
			p.SeparateFromOwner = true
			return p
		}(),
	},
	asset("Image", "Image", "image"),
	asset("CodeSource", "CodeSource", "code source"),
	asset("Algorithm", "Algorithm", "algorithm"),
	run("DLC", "Job", "training job", dev, op),
	// ResourceAdmin creates DSW instances anywhere, and then uses
	// its own like any creator.
	raOwns(rows(run("DSW", "Instance", "DSW instance", dev, op), []*Permission{
		ws("DSW:StartInstance", "DSW:GetInstance", "Start a stopped DSW instance", g(All, op), g(Own, dev)),
	}), "DSW:CreateInstance"),
	[]*Permission{
		ws("Pipeline:CreatePipeline", "", "Create a pipeline", g(All, dev, op, mc)),
		ws("Pipeline:ListPipelines", "", "List pipelines", g(All, everyone...)),
		ws("Pipeline:GetPipeline", "Pipeline:GetPipeline", "Read a pipeline", g(All, everyone...)),
		ws("Pipeline:UpdatePipeline", "Pipeline:GetPipeline", "Change a pipeline", g(Own, dev, op, mc)),
		ws("Pipeline:DeletePipeline", "Pipeline:GetPipeline", "Delete a pipeline", g(Own, dev, op, mc)),
	},
	run("Pipeline", "Run", "pipeline run", dev, op, mc),
	[]*Permission{
		ws("Pipeline:RerunRun", "Pipeline:GetRun", "Re-run the failed nodes of a pipeline run", g(All, op), g(Own, dev, mc)),
	},
	run("MaxCompute", "SQLJob", "SQL job", mc),
	[]*Permission{
		ws("MaxCompute:CreateConnection", "", "Register a warehouse connection"),
		ws("MaxCompute:ListConnections", "", "List warehouse connections", g(All, mc, dev, op)),
		ws("MaxCompute:GetConnection", "MaxCompute:GetConnection", "Read a warehouse connection (never its credentials)", g(All, mc, dev, op)),
		ws("MaxCompute:UpdateConnection", "MaxCompute:GetConnection", "Change a warehouse connection"),
		ws("MaxCompute:DeleteConnection", "MaxCompute:GetConnection", "Delete a warehouse connection"),
		// Alert rules: Admin manages all; whoever can create jobs may manage
		// rules scoped to their own resources.
		ws("Alert:CreateRule", "", "Create an alert rule (scope Mine unless Admin)", g(Own, dev, op, mc)),
		ws("Alert:ListRules", "", "List alert rules (own; Admin all)", g(All, dev, op, mc)),
		ws("Alert:GetRule", "Alert:GetRule", "Read an alert rule and its delivery history", g(Own, dev, op, mc)),
		ws("Alert:UpdateRule", "Alert:GetRule", "Change, enable or disable an alert rule", g(Own, dev, op, mc)),
		ws("Alert:DeleteRule", "Alert:GetRule", "Delete an alert rule", g(Own, dev, op, mc)),
		ws("Alert:TestRule", "Alert:GetRule", "Send a test notification through a rule", g(Own, dev, op, mc)),
		ws("Event:ListEvents", "", "Read events of resources one may see", g(All, everyone...)),
	},
)
