package main

import "github.com/spf13/cobra"

// addClientCommands registers the client verbs. Each top-level client
// command carries the client flags (--server, --token, --workspace,
// --output); see clientconfig.go for how they are resolved.
func addClientCommands(root *cobra.Command) {
	c := &cli{}
	root.AddCommand(
		newLoginCmd(c), newLogoutCmd(c), newWhoamiCmd(c),
		newWorkspaceCmd(c), newMemberCmd(c), newRoleCmd(c),
		newUserCmd(c), newTokenCmd(c), newPermissionsCmd(c), newOplogCmd(c),
		newResourceGroupCmd(c), newQuotaCmd(c), newJobCmd(c), newDSWCmd(c), newUsageCmd(c),
		newDatasetCmd(c), newModelCmd(c), newImageCmd(c), newCodeSourceCmd(c), newAlgorithmCmd(c),
		newAlertRuleCmd(c), newSQLCmd(c), newConnectionCmd(c), newRegistryCmd(c), newPipelineCmd(c),
		newEventsCmd(c),
	)
	// Shell completion: cobra's built-in 'atrium completion bash|zsh|fish|powershell'.
	root.CompletionOptions.DisableDefaultCmd = false
	root.CompletionOptions.HiddenDefaultCmd = false
}
