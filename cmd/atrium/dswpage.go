package main

import (
	"github.com/spf13/cobra"

	"atrium/dswpage"
)

// newDSWPageCmd is the hidden 'atrium dsw-page': the built-in page a DSW
// instance without a command runs on $ATRIUM_DSW_PORT (the scheduling loop
// starts it as this binary's subcommand). It ends 0 on SIGTERM, so a
// stopped instance is Stopped.
func newDSWPageCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "dsw-page",
		Short: "Serve the built-in page of a DSW instance on $ATRIUM_DSW_PORT",
		Long: `Serve the built-in page of a DSW instance on 127.0.0.1:$ATRIUM_DSW_PORT:
the instance id, a summary of its environment, a live clock, and /healthz.
The scheduling loop runs it inside DSW instances created without a command;
it is not meant to be run by hand.`,
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return dswpage.Serve(cmd.Context())
		},
	}
}
