package main

// atrium code-source …: git repositories jobs mount. An access
// token is read from stdin only, stored encrypted and never shown.

import (
	"github.com/spf13/cobra"

	"atrium/httpapi"
)

var codeSourceCLI = &assetCLI{
	use: "code-source", noun: "code source", aliases: []string{"code-sources", "codesource"}, kind: httpapi.KindCodeSources,
	short: "Register, list and publish git code sources",
	long: `Code sources of the selected workspace: a git repo, branch, commit and the
mountPath where jobs see it. A private repository's access token is given
with --access-token-stdin: it is stored encrypted, never shown again (answers
say hasAccessToken) and never logged.`,
	example: `  atrium code-source create bert --repo https://git.example.com/nlp/bert.git --branch main
  printf '%s\n' "$TOKEN" | atrium code-source create private --repo https://git.example.com/x.git --access-token-stdin`,
	fields: []assetFlag{
		{flag: "repo", field: "repo", usage: "git url (https://, ssh://, git@host:path)", required: true},
		{flag: "branch", field: "branch", usage: "branch to check out"},
		{flag: "commit", field: "commit", usage: "commit to check out"},
		{flag: "mount-path", field: "mountPath", usage: "where jobs see the code (default /root/code)"},
	},
	columns: []string{"repo", "branch", "hasAccessToken"},
	secret:  true,
}

func newCodeSourceCmd(c *cli) *cobra.Command { return newAssetCmd(c, codeSourceCLI) }
