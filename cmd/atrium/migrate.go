package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"atrium/sqlstore"
)

func addStoreFlags(f *pflag.FlagSet, dataDir, databaseURL *string) {
	f.StringVar(dataDir, "data-dir", envOr("ATRIUM_DATA_DIR", "./atrium-data"), "data directory: the SQLite database and admin.token (env ATRIUM_DATA_DIR)")
	f.StringVar(databaseURL, "database-url", envOr("ATRIUM_DATABASE_URL", ""), "postgres://… to use PostgreSQL instead of SQLite in --data-dir (env ATRIUM_DATABASE_URL)")
}

func newMigrateCmd() *cobra.Command {
	var dataDir, databaseURL string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply or inspect database schema migrations",
		Long:  "Schema migrations are embedded in the binary and also run at every 'atrium serve' start.",
	}
	addStoreFlags(cmd.PersistentFlags(), &dataDir, &databaseURL)
	cmd.AddCommand(&cobra.Command{
		Use:   "up",
		Short: "Apply all pending migrations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := openStore(cmd.Context(), dataDir, databaseURL, sqlstore.WithoutMigrate())
			if err != nil {
				return err
			}
			defer db.Close()
			if err := db.MigrateUp(cmd.Context()); err != nil {
				return err
			}
			return printMigrations(cmd, db)
		},
	}, &cobra.Command{
		Use:   "status",
		Short: "List migrations and whether each is applied",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := openStore(cmd.Context(), dataDir, databaseURL, sqlstore.WithoutMigrate())
			if err != nil {
				return err
			}
			defer db.Close()
			return printMigrations(cmd, db)
		},
	})
	return cmd
}

func printMigrations(cmd *cobra.Command, db *sqlstore.DB) error {
	st, err := db.MigrationStatus(cmd.Context())
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tAPPLIED\tAPPLIED AT")
	for _, m := range st {
		at := ""
		if m.Applied {
			at = m.AppliedAt.Local().Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(tw, "%d\t%s\t%v\t%s\n", m.Version, m.Name, m.Applied, at)
	}
	return tw.Flush()
}
