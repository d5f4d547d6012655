package httpapi

import (
	"net/http"

	"atrium"
)

var (
	pageParams = []param{
		{"pageSize", "items per page, 1–500 (default 50)"},
		{"pageToken", "nextPageToken of the previous page"},
	}
)

func params(groups ...[]param) []param {
	var out []param
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// apiRoutes is the whole API: every route names its permission code, so the
// authorizer, the operation log and the OpenAPI document follow from here.
func (s *Server) apiRoutes() []*route {
	const (
		ws    = "/api/v1/workspaces/{workspaceId}"
		rg    = "/api/v1/resource-groups"
		quota = "/api/v1/quotas"
	)
	return append([]*route{
		// Identity.
		{method: "POST", path: "/api/v1/auth/tokens", code: "Token:CreateToken", status: http.StatusCreated, auth: authTokenOrBasic,
			summary: "Mint an API token for the caller (HTTP Basic name:password or an existing token); the token is shown only in this response",
			in:      CreateTokenRequest{}, out: CreatedToken{}, h: createToken},
		{method: "GET", path: "/api/v1/auth/tokens", code: "Token:ListTokens", status: http.StatusOK, self: true,
			summary: "List the caller's tokens (never the secrets)", out: List[*tokenView]{}, h: listTokens},
		{method: "DELETE", path: "/api/v1/auth/tokens/{tokenId}", code: "Token:RevokeToken", status: http.StatusOK, self: true,
			summary: "Revoke one of the caller's tokens", out: tokenView{}, h: revokeToken},
		{method: "POST", path: "/api/v1/users", code: "User:CreateUser", status: http.StatusCreated,
			summary: "Create a user (ResourceAdmin)", in: CreateUserRequest{}, out: userView{}, h: createUser},
		{method: "GET", path: "/api/v1/users", code: "User:ListUsers", status: http.StatusOK,
			summary: "List users (ResourceAdmin)", query: params([]param{{"name", "case-insensitive substring of name or display name"}}, pageParams),
			out: List[*userView]{}, h: listUsers},
		{method: "GET", path: "/api/v1/users/{userId}", code: "User:GetUser", status: http.StatusOK, self: true,
			summary: "Read a user; 'me' is the caller", out: userView{}, h: getUser},
		{method: "PUT", path: "/api/v1/users/{userId}", code: "User:UpdateUser", status: http.StatusOK,
			summary: "Change a user's display name, email, password or disabled flag (ResourceAdmin)", in: UpdateUserRequest{}, out: userView{}, h: updateUser},
		{method: "GET", path: "/api/v1/server", code: "Platform:GetServer", status: http.StatusOK,
			summary: "What this server runs jobs in (process or container) and whether they are isolated from the host", out: ServerInfo{}, h: getServerInfo},
		{method: "GET", path: "/api/v1/permissions", code: "Permission:ListPermissions", status: http.StatusOK,
			summary: "The permission table: every permission code and which roles hold it on which targets", out: List[permissionView]{}, h: listPermissions},
		{method: "GET", path: "/api/v1/default-workspace", code: "Workspace:GetDefaultWorkspace", status: http.StatusOK,
			summary: "The caller's default workspace", out: DefaultWorkspace{}, h: getDefaultWorkspace},
		{method: "PUT", path: "/api/v1/default-workspace", code: "Workspace:SetDefaultWorkspace", status: http.StatusOK,
			summary: "Set the caller's default workspace (one they belong to)", in: DefaultWorkspace{}, out: DefaultWorkspace{}, h: setDefaultWorkspace},
		{method: "GET", path: "/api/v1/operation-logs", code: "OperationLog:ListPlatformOperationLogs", status: http.StatusOK,
			summary: "The platform-wide operation log (ResourceAdmin)",
			query:   params([]param{{"workspaceId", "only this workspace"}, {"actorId", "only this user id"}, {"action", "only this permission code"}, {"result", "Succeeded, Denied or Failed"}}, pageParams),
			out:     List[*operationLogView]{}, h: listPlatformOperationLogs},

		// Workspaces.
		{method: "POST", path: "/api/v1/workspaces", code: "Workspace:CreateWorkspace", status: http.StatusCreated,
			summary: "Create a workspace; the caller becomes its WorkspaceOwner (ResourceAdmin)", in: CreateWorkspaceRequest{}, out: atrium.Workspace{}, h: createWorkspace},
		{method: "GET", path: "/api/v1/workspaces", code: "Workspace:ListWorkspaces", status: http.StatusOK,
			summary: "List the workspaces the caller belongs to (ResourceAdmin: all)",
			query: params([]param{{"name", "case-insensitive substring of name or display name"}, {"status", "only this status"},
				{"sortBy", "name (default) or createdAt"}, {"order", "asc (default) or desc"}, {"all", "ResourceAdmin: true lists every workspace (default), false only their own"}}, pageParams),
			out: List[*atrium.Workspace]{}, h: listWorkspaces},
		{method: "GET", path: ws, code: "Workspace:GetWorkspace", status: http.StatusOK,
			summary: "Read a workspace", out: atrium.Workspace{}, h: getWorkspace},
		{method: "PUT", path: ws, code: "Workspace:UpdateWorkspace", status: http.StatusOK,
			summary: "Change a workspace's display name or description", in: UpdateWorkspaceRequest{}, out: atrium.Workspace{}, h: updateWorkspace},
		{method: "GET", path: ws + "/access", code: "Workspace:GetWorkspace", status: http.StatusOK,
			summary: "The caller's access in a workspace: roles and the scope held for every permission code (what the console offers)", out: AccessView{}, h: getAccess},
		{method: "DELETE", path: ws, code: "Workspace:DeleteWorkspace", status: http.StatusNoContent,
			summary: "Delete a workspace with its members and roles (ResourceAdmin)", h: deleteWorkspace},

		// Members.
		{method: "POST", path: ws + "/members", code: "Workspace:CreateMember", status: http.StatusCreated,
			summary: "Add users, by userId or userName, as members with roles (all or none)", in: AddMembersRequest{}, out: AddMembersResponse{}, h: addMembers},
		{method: "GET", path: ws + "/members", code: "Workspace:ListMembers", status: http.StatusOK,
			summary: "List members", query: params([]param{{"role", "only members holding this role"}, {"name", "case-insensitive substring of user name or display name"}}, pageParams),
			out: List[*atrium.Member]{}, h: listMembers},
		{method: "GET", path: ws + "/members/{memberId}", code: "Workspace:GetMember", status: http.StatusOK,
			summary: "Read a member", out: atrium.Member{}, h: getMember},
		{method: "DELETE", path: ws + "/members/{memberId}", code: "Workspace:DeleteMember", status: http.StatusNoContent,
			summary: "Remove a member (not the last WorkspaceOwner)", h: deleteMember},
		{method: "POST", path: ws + "/members/{memberId}/roles/{roleName}", code: "Workspace:CreateMemberRole", status: http.StatusOK,
			summary: "Grant a member a role", out: atrium.Member{}, h: addMemberRole},
		{method: "DELETE", path: ws + "/members/{memberId}/roles/{roleName}", code: "Workspace:DeleteMemberRole", status: http.StatusOK,
			summary: "Revoke a member's role", out: atrium.Member{}, h: removeMemberRole},

		// Roles.
		{method: "GET", path: ws + "/roles", code: "Workspace:ListRoles", status: http.StatusOK,
			summary: "List built-in and custom roles with their permission codes", out: List[*roleView]{}, h: listRoles},
		{method: "POST", path: ws + "/roles", code: "Workspace:CreateRole", status: http.StatusCreated,
			summary: "Create a custom role: a named set of permission codes ('Module:Action', optionally '@Own', '@Public' or '@OwnOrPublic')",
			in:      RoleRequest{}, out: roleView{}, h: createRole},
		{method: "GET", path: ws + "/roles/{roleName}", code: "Workspace:GetRole", status: http.StatusOK,
			summary: "Read a role", out: roleView{}, h: getRole},
		{method: "PUT", path: ws + "/roles/{roleName}", code: "Workspace:UpdateRole", status: http.StatusOK,
			summary: "Change a custom role's description or permissions (absent fields stay)", in: UpdateRoleRequest{}, out: roleView{}, h: updateRole},
		{method: "DELETE", path: ws + "/roles/{roleName}", code: "Workspace:DeleteRole", status: http.StatusNoContent,
			summary: "Delete a custom role no member holds", h: deleteRole},

		// Resource groups and nodes (ResourceAdmin).
		{method: "POST", path: rg, code: "ResourceGroup:CreateResourceGroup", status: http.StatusCreated,
			summary: "Register a resource group (backend local, slurm or kubernetes); its id is rg-NAME",
			in:      CreateResourceGroupRequest{}, out: ResourceGroupView{}, h: createResourceGroup},
		{method: "GET", path: rg, code: "ResourceGroup:ListResourceGroups", status: http.StatusOK,
			summary: "List resource groups with their node count and capacity per gpuType", out: List[*ResourceGroupView]{}, h: listResourceGroups},
		{method: "GET", path: rg + "/{resourceGroupId}", code: "ResourceGroup:GetResourceGroup", status: http.StatusOK,
			summary: "Read a resource group with its nodes and capacity per gpuType", out: ResourceGroupView{}, h: getResourceGroup},
		{method: "PUT", path: rg + "/{resourceGroupId}", code: "ResourceGroup:UpdateResourceGroup", status: http.StatusOK,
			summary: "Change a resource group's name, description or Slurm partition (absent fields stay; the backend is fixed)",
			in:      UpdateResourceGroupRequest{}, out: ResourceGroupView{}, h: updateResourceGroup},
		{method: "DELETE", path: rg + "/{resourceGroupId}", code: "ResourceGroup:DeleteResourceGroup", status: http.StatusNoContent,
			summary: "Delete a resource group and its nodes (refused while a quota draws on it)", h: deleteResourceGroup},
		{method: "GET", path: rg + "/{resourceGroupId}/nodes", code: "ResourceGroup:GetResourceGroup", status: http.StatusOK,
			summary: "List a resource group's nodes", out: List[*NodeView]{}, h: listNodes},
		{method: "PUT", path: rg + "/{resourceGroupId}/nodes/{nodeName}", code: "ResourceGroup:UpdateResourceGroup", status: http.StatusOK,
			summary: "Create or replace a node: capacity {cpu, memory, gpu, gpuType}, labels, state Ready (default), NotReady or Draining",
			in:      PutNodeRequest{}, out: NodeView{}, h: putNode},
		{method: "DELETE", path: rg + "/{resourceGroupId}/nodes/{nodeName}", code: "ResourceGroup:UpdateResourceGroup", status: http.StatusNoContent,
			summary: "Remove a node from a resource group", h: deleteNode},
		{method: "GET", path: rg + "/{resourceGroupId}/accounts", code: "ResourceGroup:ListAccounts", status: http.StatusOK,
			summary: "The Unix accounts a slurm group's jobs run as: its defaultUnixAccount and the mappings of workspaces and users (a user's wins over the workspace's)",
			out:     AccountsView{}, h: listAccounts},
		{method: "PUT", path: rg + "/{resourceGroupId}/accounts/workspaces/{workspaceId}", code: accountsCode, status: http.StatusOK,
			summary: "Run the workspace's jobs on the slurm group as a Unix account (never root)",
			in:      AccountMappingRequest{}, out: AccountMappingView{}, h: putWorkspaceAccount},
		{method: "DELETE", path: rg + "/{resourceGroupId}/accounts/workspaces/{workspaceId}", code: accountsCode, status: http.StatusNoContent,
			summary: "Remove the workspace's Unix account on the slurm group (its jobs fall back to the group's default)", h: deleteWorkspaceAccount},
		{method: "PUT", path: rg + "/{resourceGroupId}/accounts/users/{userId}", code: accountsCode, status: http.StatusOK,
			summary: "Run the user's jobs on the slurm group, in every workspace, as a Unix account (never root); wins over the workspace's",
			in:      AccountMappingRequest{}, out: AccountMappingView{}, h: putUserAccount},
		{method: "DELETE", path: rg + "/{resourceGroupId}/accounts/users/{userId}", code: accountsCode, status: http.StatusNoContent,
			summary: "Remove the user's Unix account on the slurm group (their jobs fall back to the workspace's or the default)", h: deleteUserAccount},

		// Quotas (ResourceAdmin).
		{method: "POST", path: quota, code: "Quota:CreateQuota", status: http.StatusCreated,
			summary: "Create a quota: a root draws on resource groups, a child on its parent; the whole tree is checked; its id is quota-NAME",
			in:      QuotaRequest{}, out: QuotaView{}, h: createQuota},
		{method: "GET", path: quota, code: "Quota:ListQuotas", status: http.StatusOK,
			summary: "List quotas with usage per gpuType",
			query: []param{{"layout", "flat (default) or tree: root quotas with their children, recursively"},
				{"parentId", "only children of this quota (empty: roots)"}, {"offeredTo", "only quotas this workspace may bind"}},
			out: List[*QuotaView]{}, h: listQuotas},
		{method: "GET", path: quota + "/{quotaId}", code: "Quota:GetQuota", status: http.StatusOK,
			summary: "Read a quota with its usage per gpuType (min, max, allocated, used, requested, borrowed, lent)",
			query:   []param{{"layout", "flat (default) or tree: with its children, recursively, each with usage"}},
			out:     QuotaView{}, h: getQuota},
		{method: "PUT", path: quota + "/{quotaId}", code: "Quota:UpdateQuota", status: http.StatusOK,
			summary: "Replace a quota's changeable fields (absent fields take their defaults); the whole tree is checked",
			in:      QuotaRequest{}, out: QuotaView{}, h: updateQuota},
		{method: "DELETE", path: quota + "/{quotaId}", code: "Quota:DeleteQuota", status: http.StatusNoContent,
			summary: "Delete a quota without children or bindings", h: deleteQuota},

		// Workspace quotas and configuration.
		{method: "GET", path: ws + "/quotas", code: "Workspace:ListResources", status: http.StatusOK,
			summary: "The quotas the workspace may use (bound, or offered to all) with usage and a bound flag",
			query:   []param{{"offered", "true: instead, the quotas offered to the workspace that it has not bound"}},
			out:     List[*QuotaView]{}, h: listWorkspaceQuotas},
		{method: "GET", path: ws + "/quotas/{quotaId}", code: "Workspace:ListResources", status: http.StatusOK,
			summary: "Read a quota the workspace may use, with usage",
			query:   []param{{"layout", "flat (default) or tree: with its children, recursively, each with usage"}},
			out:     QuotaView{}, h: getWorkspaceQuota},
		{method: "POST", path: ws + "/quotas", code: "Workspace:BindQuota", status: http.StatusCreated,
			summary: "Bind a quota offered to the workspace", in: BindQuotaRequest{}, out: atrium.QuotaBinding{}, h: bindQuota},
		{method: "DELETE", path: ws + "/quotas/{quotaId}", code: "Workspace:UnbindQuota", status: http.StatusNoContent,
			summary: "Unbind a quota (refused with 409 while it is the workspace's defaultQuotaId)", h: unbindQuota},
		{method: "GET", path: ws + "/config", code: "Workspace:GetConfig", status: http.StatusOK,
			summary: "Read the workspace's scheduling configuration", out: WorkspaceConfigView{}, h: getWorkspaceConfig},
		{method: "PUT", path: ws + "/config", code: "Workspace:UpdateConfig", status: http.StatusOK,
			summary: "Change the workspace's scheduling configuration (absent fields stay; a present map replaces the whole map)",
			in:      UpdateWorkspaceConfigRequest{}, out: WorkspaceConfigView{}, h: updateWorkspaceConfig},

		// Operation log.
		{method: "GET", path: ws + "/operation-logs", code: "Workspace:ListOperationLogs", status: http.StatusOK,
			summary: "The workspace's operation log, newest first",
			query:   params([]param{{"actorId", "only this user id"}, {"action", "only this permission code"}, {"result", "Succeeded, Denied or Failed"}}, pageParams),
			out:     List[*operationLogView]{}, h: listOperationLogs},

		// Usage accounting.
		{method: "GET", path: ws + "/usage", code: "Workspace:ListResources", status: http.StatusOK,
			summary: "GPU-, CPU-core- and memory-hours of the workspace's pod allocations in [from, to), grouped; preempted and restarted attempts count",
			query:   usageParams, out: UsageReport{}, h: workspaceUsage},
		{method: "GET", path: "/api/v1/usage", code: "Quota:ListQuotas", status: http.StatusOK,
			summary: "Platform-wide usage of pod allocations in [from, to), grouped (ResourceAdmin)",
			query: append([]param{{"workspaceId", "only this workspace"}}, usageParams[0], usageParams[1],
				param{"groupBy", "user (default), quota, gpuType, jobType or workspace"}),
			out: UsageReport{}, h: platformUsage},

		{method: "POST", path: "/api/v1/resource-groups/{resourceGroupId}/import-nodes", code: "ResourceGroup:UpdateResourceGroup", status: http.StatusOK,
			summary: "Read the group's nodes from its backend (the Slurm partition's nodes, their CPUs, memory, GPUs and state) and record them",
			out:     List[*NodeView]{}, h: importNodes},

		// DLC jobs.
		{method: "POST", path: ws + "/jobs", code: "DLC:CreateJob", status: http.StatusCreated,
			summary: "Submit a training job; the body is the job spec in YAML or JSON. With dryRun=true nothing is created: the answer says whether and where it would run now, or why it would wait",
			query:   []param{{"dryRun", "true: answer what would happen, create nothing (200 with a DryRunResult)"}},
			in:      atrium.JobSpec{}, out: atrium.Job{}, alt: map[int]any{http.StatusOK: DryRunResult{}}, body: "application/yaml", h: createJob},
		{method: "GET", path: ws + "/jobs", code: "DLC:ListJobs", status: http.StatusOK,
			summary: "List training jobs you may see (your own and PUBLIC ones; Operators and Admins all), newest first",
			query: params([]param{{"status", "comma-separated statuses"}, {"creator", "creator's user id"}, {"jobType", "PyTorchJob, TFJob…"},
				{"quotaId", "only this quota"}}, pageParams),
			out: List[*atrium.Job]{}, h: listJobs},
		{method: "GET", path: ws + "/jobs/{jobId}", code: "DLC:GetJob", status: http.StatusOK, self: true,
			summary: "Read a job: status, reason, statusHistory, queue position, pods", out: atrium.Job{}, h: getJob},
		{method: "PUT", path: ws + "/jobs/{jobId}", code: "DLC:UpdateJob", status: http.StatusOK, self: true,
			summary: "Change a job's priority (within your role's cap), make it PUBLIC, or change its description",
			in:      UpdateJobRequest{}, out: atrium.Job{}, h: updateJob},
		{method: "POST", path: ws + "/jobs/{jobId}/stop", code: "DLC:StopJob", status: http.StatusOK, self: true,
			summary: "Stop a job: a queued job is Stopped at once, a running one goes Stopping → Stopped", out: atrium.Job{}, h: stopJob},
		{method: "DELETE", path: ws + "/jobs/{jobId}", code: "DLC:DeleteJob", status: http.StatusNoContent, self: true,
			summary: "Delete a finished job", h: deleteJob},
		{method: "GET", path: ws + "/jobs/{jobId}/events", code: "DLC:GetJob", status: http.StatusOK, self: true,
			summary: "What happened to a job, oldest first", out: List[*atrium.JobEvent]{}, h: jobEvents},
		{method: "GET", path: ws + "/jobs/{jobId}/logs", code: "DLC:GetJob", status: http.StatusOK, self: true, stream: true,
			summary: "A job's pod output as text/plain; without pod every pod's lines, prefixed by pod name; follow=true streams until the pods end",
			query:   []param{{"pod", "one pod, e.g. worker-1"}, {"follow", "true: keep streaming"}}, h: jobLogs},
	}, append(append(append(dswRoutes(ws), assetRoutes(ws)...), eventRoutes(ws)...), append(append(append(alertRoutes(ws), sqlRoutes(ws)...), pipelineRoutes(ws)...), registryRoutes()...)...)...)
}
