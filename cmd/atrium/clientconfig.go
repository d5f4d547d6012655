package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"atrium"
	"atrium/httpapi"
)

// defaultServer is where the client looks when nothing else says.
const defaultServer = "http://127.0.0.1:8080"

// clientConfig is the client's config file, written by 'atrium login' and
// 'atrium workspace use'. It holds a credential, so it is mode 0600.
type clientConfig struct {
	Server string `json:"server,omitempty"`
	Token  string `json:"token,omitempty"`
	// TokenID is set when 'atrium login' minted the token, so that
	// 'atrium logout' can revoke it; a token given with --token-file is
	// not the client's to revoke.
	TokenID   string `json:"tokenId,omitempty"`
	User      string `json:"user,omitempty"`
	Workspace string `json:"workspace,omitempty"`
}

// configPath is $ATRIUM_CONFIG, else <user config dir>/atrium/config.json
// ($XDG_CONFIG_HOME/atrium/config.json on Linux).
func configPath() (string, error) {
	if p := os.Getenv("ATRIUM_CONFIG"); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("cannot locate the config file (set ATRIUM_CONFIG): %w", err)
	}
	return filepath.Join(dir, "atrium", "config.json"), nil
}

// loadConfig reads the config file; a missing file is an empty config.
func loadConfig(path string) (*clientConfig, error) {
	cfg := &clientConfig{}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	} else if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if err := json.Unmarshal(data, cfg); err != nil {
		return nil, fmt.Errorf("config file %s is not valid JSON (fix or delete it): %w", path, err)
	}
	return cfg, nil
}

// saveConfig writes the config file atomically with mode 0600 in a
// directory created with mode 0700.
func saveConfig(path string, cfg *clientConfig) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}

// cli holds the global client flags; one per root command.
type cli struct {
	server, token, workspace, output string
}

// addGlobalFlags puts the client flags on a top-level client command (and
// so on all its subcommands). They are not on the root, where 'serve' and
// 'migrate' would show them without using them.
func (c *cli) addGlobalFlags(cmd *cobra.Command) *cobra.Command {
	f := cmd.PersistentFlags()
	f.StringVar(&c.server, "server", "", "Atrium server URL (env ATRIUM_SERVER, else the config file, else "+defaultServer+")")
	f.StringVar(&c.token, "token", "", "API token (env ATRIUM_TOKEN, else the one saved by 'atrium login')")
	f.StringVarP(&c.workspace, "workspace", "w", "", "workspace id or name (env ATRIUM_WORKSPACE, else the config file, else your default workspace)")
	f.StringVarP(&c.output, "output", "o", "table", "output format: table, json or yaml")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("workspace", c.completeWorkspaces)
	return cmd
}

// session is one client command's resolved settings and API client.
type session struct {
	cmd     *cobra.Command
	ctx     context.Context
	cli     *cli
	cfgPath string
	cfg     *clientConfig
	server  string // resolved: flag > env > config > default
	token   string // resolved: flag > env > config
	output  string
	client  *httpapi.Client
}

// pick returns the first non-empty value: flag, then env, then config.
func pick(flag, env, cfg string) string {
	if flag != "" {
		return flag
	}
	if v := os.Getenv(env); v != "" {
		return v
	}
	return cfg
}

func normalizeServer(s string) string {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	return strings.TrimRight(s, "/")
}

func (c *cli) newSession(cmd *cobra.Command) (*session, error) {
	switch c.output {
	case "table", "json", "yaml":
	default:
		return nil, fmt.Errorf("--output: must be table, json or yaml, not %q", c.output)
	}
	path, err := configPath()
	if err != nil {
		return nil, err
	}
	cfg, err := loadConfig(path)
	if err != nil {
		return nil, err
	}
	s := &session{cmd: cmd, ctx: cmd.Context(), cli: c, cfgPath: path, cfg: cfg, output: c.output}
	if s.ctx == nil {
		s.ctx = context.Background()
	}
	s.server = normalizeServer(cmp(pick(c.server, "ATRIUM_SERVER", cfg.Server), defaultServer))
	// A token saved for another server is not sent to this one.
	cfgToken := cfg.Token
	if cfg.Server != "" && normalizeServer(cfg.Server) != s.server {
		cfgToken = ""
	}
	s.token = strings.TrimSpace(pick(c.token, "ATRIUM_TOKEN", cfgToken))
	s.client = &httpapi.Client{BaseURL: s.server, Token: s.token, UserAgent: "atrium-cli"}
	return s, nil
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// needToken fails early, with the way out, when there is no credential.
func (s *session) needToken() error {
	if s.token == "" {
		return &hintError{msg: "not logged in to " + s.server,
			hint: "run 'atrium login --server " + s.server + "', or pass --token / set ATRIUM_TOKEN"}
	}
	return nil
}

// save writes the session's config back.
func (s *session) save() error { return saveConfig(s.cfgPath, s.cfg) }

// configIsFor reports whether the config file describes the session's
// server (or no server yet), so per-server settings may be stored in it.
func (s *session) configIsFor() bool {
	return s.cfg.Server == "" || normalizeServer(s.cfg.Server) == s.server
}

var (
	workspaceIDRE = regexp.MustCompile(`^ws-[a-z2-7]{16}$`)
	userIDRE      = regexp.MustCompile(`^u-[a-z2-7]{16}$`)
	memberIDRE    = regexp.MustCompile(`^mem-[a-z2-7]{16}$`)
)

// workspaceRef is the selected workspace (id or name) and where it came
// from: flag > env > config file.
func (s *session) workspaceRef() (ref, source string) {
	switch {
	case s.cli.workspace != "":
		return s.cli.workspace, "--workspace"
	case os.Getenv("ATRIUM_WORKSPACE") != "":
		return os.Getenv("ATRIUM_WORKSPACE"), "ATRIUM_WORKSPACE"
	case s.cfg.Workspace != "" && s.configIsFor():
		return s.cfg.Workspace, "config file " + s.cfgPath
	}
	return "", ""
}

// workspaceID resolves the workspace a workspace-scoped command acts on:
// --workspace, ATRIUM_WORKSPACE, the config file, else the caller's
// server-side default workspace.
func (s *session) workspaceID() (string, error) {
	if err := s.needToken(); err != nil {
		return "", err
	}
	if ref, source := s.workspaceRef(); ref != "" {
		ws, err := s.resolveWorkspace(ref)
		if err != nil && source != "--workspace" {
			return "", fmt.Errorf("%w (workspace %q comes from %s)", err, ref, source)
		}
		if err != nil {
			return "", err
		}
		return ws.ID, nil
	}
	d, err := s.client.GetDefaultWorkspace(s.ctx)
	if err != nil {
		return "", err
	}
	if d.WorkspaceID == "" {
		return "", &hintError{msg: "no workspace selected",
			hint: "pass --workspace NAME (or -w), set ATRIUM_WORKSPACE, or choose a default with 'atrium workspace use NAME' (see 'atrium workspace list')"}
	}
	return d.WorkspaceID, nil
}

// resolveWorkspace accepts a workspace id (ws-…) or name. An id is
// returned as is (the server checks it with the call that uses it); a name
// is looked up among the workspaces the caller can list.
func (s *session) resolveWorkspace(ref string) (*atrium.Workspace, error) {
	if atrium.HasPrefix(ref, atrium.PrefixWorkspace) {
		// Names cannot contain '-', so this is never a name.
		return &atrium.Workspace{ID: ref}, nil
	}
	l, err := collect(0, "", func(p httpapi.PageOptions) (*httpapi.List[*atrium.Workspace], error) {
		return s.client.ListWorkspaces(s.ctx, httpapi.ListWorkspacesOptions{Name: ref, PageOptions: p})
	})
	if err != nil {
		return nil, err
	}
	var fold []*atrium.Workspace
	for _, w := range l.Items {
		if w.Name == ref {
			return w, nil
		}
		if strings.EqualFold(w.Name, ref) {
			fold = append(fold, w)
		}
	}
	if len(fold) == 1 {
		return fold[0], nil
	}
	return nil, &hintError{msg: fmt.Sprintf("no workspace named %q among those you can see", ref), hint: "see 'atrium workspace list'"}
}

// resolveUser accepts "me", a user id (u-…) or a user name; names are
// looked up with GET /api/v1/users, which only a ResourceAdmin may call.
func (s *session) resolveUser(ref string) (string, error) {
	if ref == "me" || userIDRE.MatchString(ref) {
		return ref, nil
	}
	l, err := collect(0, "", func(p httpapi.PageOptions) (*httpapi.List[*atrium.User], error) {
		return s.client.ListUsers(s.ctx, httpapi.ListUsersOptions{Name: ref, PageOptions: p})
	})
	if httpapi.IsProblem(err, atrium.EFORBIDDEN) {
		return "", &hintError{msg: fmt.Sprintf("cannot look up user %q by name: listing users needs the ResourceAdmin platform role", ref),
			hint: "pass the user id (u-…) instead; a user sees their id with 'atrium whoami'"}
	} else if err != nil {
		return "", err
	}
	for _, u := range l.Items {
		if u.Name == ref {
			return u.ID, nil
		}
	}
	return "", &hintError{msg: fmt.Sprintf("no user named %q", ref), hint: "see 'atrium user list'"}
}

// resolveMember accepts a member id (mem-…), a user id (u-…) or a user
// name, looked up among the workspace's members.
func (s *session) resolveMember(wsID, ref string) (*atrium.Member, error) {
	if memberIDRE.MatchString(ref) {
		return &atrium.Member{ID: ref}, nil
	}
	opt := httpapi.ListMembersOptions{}
	if !userIDRE.MatchString(ref) {
		opt.Name = ref
	}
	l, err := collect(0, "", func(p httpapi.PageOptions) (*httpapi.List[*atrium.Member], error) {
		opt.PageOptions = p
		return s.client.ListMembers(s.ctx, wsID, opt)
	})
	if err != nil {
		return nil, err
	}
	for _, m := range l.Items {
		if m.UserName == ref || m.UserID == ref {
			return m, nil
		}
	}
	return nil, &hintError{msg: fmt.Sprintf("%q is not a member of workspace %s", ref, wsID), hint: "see 'atrium member list'"}
}

// collect fetches one page when pageSize > 0, else every page.
func collect[T any](pageSize int, pageToken string, fetch func(httpapi.PageOptions) (*httpapi.List[T], error)) (*httpapi.List[T], error) {
	if pageSize > 0 {
		return fetch(httpapi.PageOptions{PageSize: pageSize, PageToken: pageToken})
	}
	all := &httpapi.List[T]{Items: []T{}}
	token := pageToken
	for {
		l, err := fetch(httpapi.PageOptions{PageSize: 500, PageToken: token})
		if err != nil {
			return nil, err
		}
		all.Items = append(all.Items, l.Items...)
		all.TotalCount = l.TotalCount
		if l.NextPageToken == "" || len(l.Items) == 0 {
			return all, nil
		}
		token = l.NextPageToken
	}
}

// completeWorkspaces offers workspace names for --workspace and arguments.
func (c *cli) completeWorkspaces(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	s, err := c.newSession(cmd)
	if err != nil || s.token == "" {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	l, err := s.client.ListWorkspaces(s.ctx, httpapi.ListWorkspacesOptions{Name: toComplete, PageOptions: httpapi.PageOptions{PageSize: 100}})
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var out []cobra.Completion
	for _, w := range l.Items {
		out = append(out, cobra.CompletionWithDesc(w.Name, w.DisplayName))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
