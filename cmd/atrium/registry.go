package main

// atrium registry …: image registries that pods pull from, with write-only
// credentials (ResourceAdmin).

import (
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"atrium/httpapi"
)

func newRegistryCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "registry",
		Aliases: []string{"registries"},
		Short:   "Register image registries and their pull credentials (ResourceAdmin)",
		Long: `An image registry is where pods pull images from: host[:port] as image names
spell it (registry.example.com, 127.0.0.1:5000), and the credentials to pull
with. A job whose image names a registered host (registry.example.com/team/
trainer:1.0) is pulled with that registry's username and password; images
of other hosts are pulled without credentials, and localhost/… images only
come from the host's own image store.

The password (or access token) is write-only: it is read from stdin (never
from a flag, which other users of the machine could see), stored encrypted
and never shown again, only whether one is set. --insecure pulls over plain
HTTP or without verifying TLS, for a registry on loopback or a test network.

A REGISTRY argument is a registry id (reg-…) or name. ResourceAdmins manage
registries; every signed-in user may list their names and hosts.`,
	}
	cmd.AddCommand(newRegistryCreateCmd(c), newRegistryListCmd(c), newRegistryGetCmd(c), newRegistryUpdateCmd(c), newRegistryDeleteCmd(c))
	return c.addGlobalFlags(cmd)
}

// resolveRegistry accepts a registry id or name.
func (s *session) resolveRegistry(ref string) (string, error) {
	if err := s.needToken(); err != nil {
		return "", err
	}
	l, err := s.client.ListRegistries(s.ctx)
	if err != nil {
		return "", err
	}
	for _, r := range l.Items {
		if r.RegistryID == ref || r.Name == ref {
			return r.RegistryID, nil
		}
	}
	return "", &hintError{msg: fmt.Sprintf("no registry %q", ref), hint: "see 'atrium registry list'"}
}

// registryPassword reads the password: the first line of stdin with
// --password-stdin, else a hidden prompt on a terminal.
func registryPassword(s *session, fromStdin bool, name string) (string, error) {
	if fromStdin {
		return readPasswordLine(newLineReader(s.cmd))
	}
	fd, ok := stdinTerminal(s.cmd)
	if !ok {
		return "", &hintError{msg: "stdin is not a terminal, so the registry password cannot be asked for",
			hint: "pipe it with --password-stdin"}
	}
	return readPassword(s.cmd, fd, "Password (or access token) for registry "+name+": ")
}

func registryDetail(w io.Writer, r *httpapi.RegistryView) {
	kv(w, "ID", r.RegistryID, "Name", r.Name, "Host", r.Host, "Username", orDash(r.Username),
		"Password set", strconv.FormatBool(r.HasPassword), "Insecure", strconv.FormatBool(r.Insecure),
		"Description", orDash(r.Description), "Created", fmtTime(r.CreatedAt), "Updated", fmtTime(r.UpdatedAt))
}

func newRegistryCreateCmd(c *cli) *cobra.Command {
	var req httpapi.RegistryRequest
	var pwStdin bool
	cmd := &cobra.Command{
		Use:   "create NAME --host HOST[:PORT] [--username USER --password-stdin] [--insecure]",
		Short: "Register an image registry with its pull credentials",
		Long: `Register an image registry. NAME is 2–63 lowercase letters, digits or '-',
starting with a letter. --host is host[:port] exactly as image names spell
it: no https://, no path. With --username, the password or access token is
read from the first line of stdin (--password-stdin), or asked for without
echo on a terminal; it is stored encrypted and never shown again.
--insecure pulls over plain HTTP or without verifying TLS.`,
		Example: `  printf '%s\n' "$REGISTRY_TOKEN" | atrium registry create corp --host registry.example.com --username puller --password-stdin
  atrium registry create lab --host 127.0.0.1:5000 --insecure`,
		Args: cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			if err := s.needToken(); err != nil {
				return err
			}
			req.Name = args[0]
			if req.Username != "" || pwStdin {
				pw, err := registryPassword(s, pwStdin, req.Name)
				if err != nil {
					return err
				}
				req.Password = pw
			}
			r, err := s.client.CreateRegistry(s.ctx, req)
			if err != nil {
				return err
			}
			return s.print(r, func(w io.Writer) {
				fmt.Fprintf(w, "Registered registry %s (%s) for %s; password set: %t\n", r.Name, r.RegistryID, r.Host, r.HasPassword)
			})
		}),
	}
	f := cmd.Flags()
	f.StringVar(&req.Host, "host", "", "host[:port] as image names spell it, e.g. registry.example.com (required)")
	f.StringVar(&req.Username, "username", "", "user name to pull with (with a password or access token)")
	f.BoolVar(&pwStdin, "password-stdin", false, "read the password or access token from the first line of stdin")
	f.BoolVar(&req.Insecure, "insecure", false, "pull over plain HTTP or without verifying TLS (a registry on loopback)")
	f.StringVar(&req.Description, "description", "", "description, up to 80 characters")
	return cmd
}

func newRegistryListCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List image registries (never their passwords)",
		Long: `List image registries: name, host, whether a password is set and whether
pulls are insecure. ResourceAdmins also see the usernames.`,
		Example: "  atrium registry list\n  atrium registry ls -o json",
		Args:    cobra.NoArgs,
		RunE: c.run(func(s *session, args []string) error {
			if err := s.needToken(); err != nil {
				return err
			}
			l, err := s.client.ListRegistries(s.ctx)
			if err != nil {
				return err
			}
			return s.print(l, func(w io.Writer) {
				fmt.Fprintln(w, "ID\tNAME\tHOST\tUSERNAME\tPASSWORD\tINSECURE")
				for _, r := range l.Items {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%t\t%t\n", r.RegistryID, r.Name, r.Host, orDash(r.Username), r.HasPassword, r.Insecure)
				}
			})
		}),
	}
}

func newRegistryGetCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "get REGISTRY",
		Short:   "Show an image registry (never its password)",
		Long:    `Show an image registry, by id or name: host, username, whether a password is set (never the password), insecure.`,
		Example: "  atrium registry get corp",
		Args:    cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			id, err := s.resolveRegistry(args[0])
			if err != nil {
				return err
			}
			r, err := s.client.GetRegistry(s.ctx, id)
			if err != nil {
				return err
			}
			return s.print(r, func(w io.Writer) { registryDetail(w, r) })
		}),
	}
}

func newRegistryUpdateCmd(c *cli) *cobra.Command {
	var name, host, username, description string
	var pwStdin, insecure, clear bool
	cmd := &cobra.Command{
		Use:   "update REGISTRY [--host HOST] [--username USER] [--password-stdin] [--insecure=true|false] [--clear-credentials]",
		Short: "Change an image registry or its credentials",
		Long: `Change a registry's name, host, username, password, insecure flag or
description; flags not given stay. --password-stdin reads a new password or
access token from the first line of stdin. --clear-credentials removes the
username and password: images are then pulled without signing in.`,
		Example: `  printf '%s\n' "$NEW_TOKEN" | atrium registry update corp --password-stdin
  atrium registry update lab --insecure=false --host lab.example.com:5000
  atrium registry update corp --clear-credentials`,
		Args: cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			var req httpapi.UpdateRegistryRequest
			fl := s.cmd.Flags()
			for flag, set := range map[string]func(){"name": func() { req.Name = &name }, "host": func() { req.Host = &host },
				"username": func() { req.Username = &username }, "description": func() { req.Description = &description },
				"insecure": func() { req.Insecure = &insecure }} {
				if fl.Changed(flag) {
					set()
				}
			}
			if clear {
				if pwStdin || fl.Changed("username") {
					return errors.New("--clear-credentials cannot be combined with --username or --password-stdin")
				}
				empty := ""
				req.Username, req.Password = &empty, &empty
			}
			if req == (httpapi.UpdateRegistryRequest{}) && !pwStdin {
				return errors.New("nothing to change: give --name, --host, --username, --password-stdin, --insecure, --description or --clear-credentials")
			}
			id, err := s.resolveRegistry(args[0])
			if err != nil {
				return err
			}
			if pwStdin {
				pw, err := registryPassword(s, true, args[0])
				if err != nil {
					return err
				}
				req.Password = &pw
			}
			r, err := s.client.UpdateRegistry(s.ctx, id, req)
			if err != nil {
				return err
			}
			return s.print(r, func(w io.Writer) { registryDetail(w, r) })
		}),
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "new name")
	f.StringVar(&host, "host", "", "new host[:port]")
	f.StringVar(&username, "username", "", "new user name")
	f.BoolVar(&pwStdin, "password-stdin", false, "read a new password or access token from the first line of stdin")
	f.BoolVar(&insecure, "insecure", false, "pull over plain HTTP or without verifying TLS (--insecure=false to verify again)")
	f.StringVar(&description, "description", "", "new description")
	f.BoolVar(&clear, "clear-credentials", false, "remove the username and password")
	return cmd
}

func newRegistryDeleteCmd(c *cli) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:     "delete REGISTRY",
		Aliases: []string{"rm"},
		Short:   "Delete an image registry and its credentials",
		Long: `Delete an image registry and its stored credentials. Images of its host are
then pulled without signing in (already pulled images stay on the host).
Asks for confirmation on a terminal; scripts pass --yes.`,
		Example: "  atrium registry delete corp --yes",
		Args:    cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			id, err := s.resolveRegistry(args[0])
			if err != nil {
				return err
			}
			if !yes {
				ok, err := confirm(s.cmd, fmt.Sprintf("Delete registry %s and its credentials?", args[0]))
				if err != nil {
					return err
				}
				if !ok {
					return errors.New("not deleted")
				}
			}
			if err := s.client.DeleteRegistry(s.ctx, id); err != nil {
				return err
			}
			s.message("Deleted registry %s", args[0])
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}
