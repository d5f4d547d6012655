package main

import (
	"testing"
)

// TestAccountCLI: a ResourceAdmin sets, lists and removes the Unix
// accounts of a slurm group; root is refused naming the field and the rule.
func TestAccountCLI(t *testing.T) {
	e := newTestEnv(t)
	e.ok("login", "--server", e.url, "--token-file", e.tokenFile)
	e.ok("workspace", "create", "vision")
	contains(t, e.fails("", "rg", "create", "hpc", "--backend", "slurm", "--default-unix-account", "root"),
		"400", "defaultUnixAccount", "must not be root (uid 0)")
	e.ok("rg", "create", "hpc", "--backend", "slurm", "--partition", "atrium", "--default-unix-account", "atrium-job")
	contains(t, e.ok("rg", "get", "hpc"), "Default Unix account", "atrium-job")

	contains(t, e.ok("rg", "account", "set", "hpc", "vision-jobs", "--workspace", "vision"), "Jobs of workspace vision", "run as vision-jobs")
	contains(t, e.ok("rg", "account", "set", "hpc", "admin-jobs", "--user", "admin"), "Jobs of user admin", "run as admin-jobs")
	contains(t, e.fails("", "rg", "account", "set", "hpc", "root", "--workspace", "vision"), "400", "unixAccount", "must not be root (uid 0)")
	contains(t, e.fails("", "rg", "account", "set", "hpc", "x"), "exactly one of --workspace WS, --user USER and --default")
	contains(t, e.fails("", "rg", "account", "set", "hpc", "x", "--user", "admin", "--default"), "exactly one of")
	contains(t, e.ok("rg", "account", "list", "hpc"), "Default Unix account:", "atrium-job",
		"FOR", "UNIX ACCOUNT", "workspace", "vision", "vision-jobs", "user", "admin", "admin-jobs")

	contains(t, e.ok("rg", "account", "delete", "hpc", "--user", "admin"), "Removed the Unix account of user")
	contains(t, e.fails("", "rg", "account", "delete", "hpc", "--user", "admin"), "404")
	contains(t, e.ok("rg", "account", "set", "hpc", "atrium-job2", "--default"), "run as atrium-job2")
	contains(t, e.ok("rg", "account", "delete", "hpc", "--default"), "no default Unix account")
	contains(t, e.ok("rg", "account", "list", "hpc"), "none: jobs no mapping covers are refused")
	contains(t, e.ok("rg", "update", "hpc", "--default-unix-account", "atrium-job"), "atrium-job")
	contains(t, e.fails("", "rg", "create", "pool", "--backend", "local", "--default-unix-account", "atrium-job"), "400", "only a slurm resource group")
	contains(t, e.ok("rg", "account", "--help"), "never run as root", "not Slurm's --account")
}
