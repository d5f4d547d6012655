package main

// The commands every asset kind shares (atrium dataset|model|image|
// code-source|algorithm …), built from an assetCLI descriptor: the kind's
// own fields become flags of create and update, and versioned kinds get
// 'version create|list|get|delete'.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"atrium/httpapi"
)

// assetFlag is one of a kind's own fields, set by a flag.
type assetFlag struct {
	flag, field, usage string
	integer            bool // a number, not a string
	required           bool // on create
}

// assetCLI describes one asset kind to the shared commands.
type assetCLI struct {
	use, noun string
	aliases   []string
	kind      httpapi.AssetKind
	short     string
	long      string
	example   string
	fields    []assetFlag
	columns   []string // the kind's fields shown in tables
	// secret: the kind takes a write-only access token (--access-token-stdin).
	secret   bool
	versions *versionCLI
}

// versionCLI describes the versions of a kind.
type versionCLI struct {
	named   bool // --name MAJOR.MINOR.PATCH; otherwise v1, v2…
	fields  []assetFlag
	columns []string
	example string
	// extra adds kind-specific flags to 'version create' and fills the body.
	extra func(cmd *cobra.Command) func(s *session, body map[string]any) error
}

func newAssetCmd(c *cli, a *assetCLI, more ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{Use: a.use, Aliases: a.aliases, Short: a.short, Long: a.long}
	cmd.AddCommand(a.createCmd(c), a.listCmd(c), a.getCmd(c), a.updateCmd(c), a.deleteCmd(c), a.publishCmd(c),
		a.labelCmd(c), a.unlabelCmd(c), a.ownerCmd(c))
	if a.versions != nil {
		cmd.AddCommand(a.versionCmd(c))
	}
	cmd.AddCommand(more...)
	a.help(cmd)
	return c.addGlobalFlags(cmd)
}

// help fills in the Long text and examples of the shared subcommands.
func (a *assetCLI) help(cmd *cobra.Command) {
	id := map[httpapi.AssetKind]string{httpapi.KindDatasets: "d-4kq2m7xw3a", httpapi.KindModels: "model-4kq2m7xw3a",
		httpapi.KindImages: "image-4kq2m7xw3a", httpapi.KindCodeSources: "code-4kq2m7xw3a", httpapi.KindAlgorithms: "algo-4kq2m7xw3a"}[a.kind]
	p := "  atrium " + a.use + " "
	text := map[string][2]string{
		"create": {"Create a " + a.noun + " in the selected workspace. It is PRIVATE — only you and the\nworkspace's Admins see it — until published.", a.example},
		"list":   {"", ""},
		"get":    {"Show a " + a.noun + ": its fields, labels, owner and latest version; -o json\nprints it as the API answers it.", p + "get " + id + "\n" + p + "get " + id + " -o json"},
		"update": {"Change a " + a.noun + "'s name, description or own fields; unset flags stay.\nOnly its owner and Admins may.", p + "update " + id + " --description 'cleaned up'"},
		"delete": {"Delete " + a.noun + "s with their versions. Only the owner and Admins may.", p + "delete " + id},
		"publish": {"Make a " + a.noun + " PUBLIC: every member of the workspace may then read it.\nThere is no way back to PRIVATE.",
			p + "publish " + id},
		"label":     {"Add labels to a " + a.noun + ", or change their values; other labels stay.", p + "label " + id + " team=nlp stage=gold"},
		"unlabel":   {"Remove one label of a " + a.noun + ".", p + "unlabel " + id + " stage"},
		"set-owner": {"Give a " + a.noun + " to another member of the workspace (Admins only).", p + "set-owner " + id + " alice"},
		"version": {"The versions of a " + a.noun + ": create, list, show and delete them.",
			p + "version list " + id + "\n" + p + "version get " + id + " " + map[bool]string{true: "0.1.0", false: "v1"}[a.versions != nil && a.versions.named]},
		"lineage": {"Show where a model version came from: the job that produced it (sourceType Job),\nthe dataset versions it read, its code source and image.", p + "lineage " + id + " 1.0.0"},
	}
	for _, sub := range cmd.Commands() {
		t, ok := text[sub.Name()]
		if sub.Long == "" {
			sub.Long = cmp(t[0], sub.Short+".")
		}
		if sub.Example == "" && ok && t[1] != "" {
			sub.Example = t[1]
		}
		if sub.Example == "" {
			sub.Example = p + sub.Use
		}
	}
}

// fieldFlags registers the fields' flags and returns a function that adds
// the changed ones to a body.
func fieldFlags(cmd *cobra.Command, fields []assetFlag) func(body map[string]any) {
	strs, ints := map[string]*string{}, map[string]*int64{}
	for _, f := range fields {
		if f.integer {
			ints[f.flag] = cmd.Flags().Int64(f.flag, 0, f.usage)
		} else {
			strs[f.flag] = cmd.Flags().String(f.flag, "", f.usage)
		}
	}
	return func(body map[string]any) {
		for _, f := range fields {
			if !cmd.Flags().Changed(f.flag) {
				continue
			}
			if f.integer {
				body[f.field] = *ints[f.flag]
			} else {
				body[f.field] = *strs[f.flag]
			}
		}
	}
}

// parseLabels turns key=value arguments into labels.
func parseLabels(flag string, kvs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: want key=value", flag, kv)
		}
		out[k] = v
	}
	return out, nil
}

// readSecretLine reads a secret's first line from stdin.
func readSecretLine(cmd *cobra.Command) (string, error) {
	line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("--access-token-stdin: stdin is empty")
	}
	return line, nil
}

func (a *assetCLI) createCmd(c *cli) *cobra.Command {
	var (
		description string
		public      bool
		labels      []string
		tokenStdin  bool
	)
	cmd := &cobra.Command{
		Use:     "create NAME [flags]",
		Short:   "Create a " + a.noun + " (PRIVATE unless --public)",
		Example: a.example,
		Args:    cobra.ExactArgs(1),
	}
	fill := fieldFlags(cmd, a.fields)
	cmd.RunE = c.run(func(s *session, args []string) error {
		for _, f := range a.fields {
			if f.required && !cmd.Flags().Changed(f.flag) {
				return fmt.Errorf("--%s is required", f.flag)
			}
		}
		body := map[string]any{"name": args[0]}
		if description != "" {
			body["description"] = description
		}
		if public {
			body["accessibility"] = "PUBLIC"
		}
		l, err := parseLabels("--label", labels)
		if err != nil {
			return err
		}
		if len(l) > 0 {
			body["labels"] = l
		}
		fill(body)
		if tokenStdin {
			tok, err := readSecretLine(s.cmd)
			if err != nil {
				return err
			}
			body["accessToken"] = tok
		}
		ws, err := s.workspaceID()
		if err != nil {
			return err
		}
		o, err := s.client.CreateAsset(s.ctx, ws, a.kind, body)
		if err != nil {
			return err
		}
		return s.print(o, func(w io.Writer) { a.detail(w, o) })
	})
	f := cmd.Flags()
	f.StringVar(&description, "description", "", "what it is")
	f.BoolVar(&public, "public", false, "make it PUBLIC (every member sees it; never back)")
	f.StringArrayVarP(&labels, "label", "l", nil, "a label key=value (repeatable)")
	if a.secret {
		f.BoolVar(&tokenStdin, "access-token-stdin", false, "read an access token from stdin (stored encrypted, never shown)")
	}
	return cmd
}

func (a *assetCLI) listCmd(c *cli) *cobra.Command {
	var (
		filter, sortBy, order, pageToken string
		pageSize                         int
		allPages                         bool
	)
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the " + a.noun + "s you may see (your own and PUBLIC ones)",
		Long: `List the workspace's ` + a.noun + `s you may see: your own and PUBLIC ones
(Admins all). --filter takes an expression over the fields and labels:
=, !=, <, >, LIKE, IN, AND, OR, parentheses and labels.<key>.`,
		Example: `  atrium ` + a.use + ` list
  atrium ` + a.use + ` list --filter 'name LIKE "bert%" AND labels.team = "nlp"' --sort-by name`,
		Args: cobra.NoArgs,
		RunE: c.run(func(s *session, args []string) error {
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			opt := httpapi.ListAssetsOptions{Filter: filter, SortBy: sortBy, Order: order}
			size := pageSize
			if allPages {
				size = 0
			}
			l, err := collect(size, pageToken, func(p httpapi.PageOptions) (*httpapi.List[httpapi.Object], error) {
				opt.PageOptions = p
				return s.client.ListAssets(s.ctx, ws, a.kind, opt)
			})
			if err != nil {
				return err
			}
			if err := s.print(l, func(w io.Writer) { a.table(w, l.Items) }); err != nil {
				return err
			}
			s.moreHint(l.NextPageToken)
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&filter, "filter", "", `filter expression, e.g. 'labels.team = "nlp"'`)
	f.StringVar(&sortBy, "sort-by", "", "createdAt (default), updatedAt or name")
	f.StringVar(&order, "order", "", "asc or desc")
	f.BoolVar(&allPages, "all-pages", false, "fetch every page")
	f.IntVar(&pageSize, "page-size", 50, "items per page (1–500)")
	f.StringVar(&pageToken, "page-token", "", "continue a paged listing")
	return cmd
}

func (a *assetCLI) table(w io.Writer, items []httpapi.Object) {
	head := []string{"ID", "NAME"}
	for _, col := range a.columns {
		head = append(head, strings.ToUpper(col))
	}
	head = append(head, "ACCESS", "OWNER", "LATEST", "AGE")
	fmt.Fprintln(w, strings.Join(head, "\t"))
	for _, o := range items {
		row := []string{o.String(a.kind.IDField()), o.String("name")}
		for _, col := range a.columns {
			row = append(row, orDash(o.String(col)))
		}
		row = append(row, o.String("accessibility"), o.String("ownerName"), orDash(o.String("latestVersion")), age(o.String("createdAt")))
		fmt.Fprintln(w, strings.Join(row, "\t"))
	}
}

func age(ts string) string {
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return "-"
	}
	return fmtTime(t)
}

// detail prints one asset or version, field by field.
func (a *assetCLI) detail(w io.Writer, o httpapi.Object) {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := o.String(k)
		switch k {
		case "labels":
			l := o.Labels()
			parts := make([]string, 0, len(l))
			for lk, lv := range l {
				parts = append(parts, lk+"="+lv)
			}
			sort.Strings(parts)
			v = joinOrDash(parts)
		case "metrics", "inferenceSpec", "trainingSpec", "params", "inputs", "outputs":
			b, _ := jsonCompact(o[k])
			v = b
		}
		fmt.Fprintf(w, "%s:\t%s\n", k, orDash(v))
	}
}

func (a *assetCLI) getCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show a " + a.noun,
		Args:  cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			o, err := s.client.GetAsset(s.ctx, ws, a.kind, args[0])
			if err != nil {
				return err
			}
			return s.print(o, func(w io.Writer) { a.detail(w, o) })
		}),
	}
}

func (a *assetCLI) updateCmd(c *cli) *cobra.Command {
	var (
		name, description string
		tokenStdin        bool
	)
	cmd := &cobra.Command{
		Use:   "update ID [flags]",
		Short: "Change a " + a.noun + "'s name, description or fields (unset flags stay)",
		Args:  cobra.ExactArgs(1),
	}
	fill := fieldFlags(cmd, a.fields)
	cmd.RunE = c.run(func(s *session, args []string) error {
		body := map[string]any{}
		if cmd.Flags().Changed("name") {
			body["name"] = name
		}
		if cmd.Flags().Changed("description") {
			body["description"] = description
		}
		fill(body)
		if tokenStdin {
			tok, err := readSecretLine(s.cmd)
			if err != nil {
				return err
			}
			body["accessToken"] = tok
		}
		if len(body) == 0 {
			return errors.New("nothing to change: give at least one flag")
		}
		ws, err := s.workspaceID()
		if err != nil {
			return err
		}
		o, err := s.client.UpdateAsset(s.ctx, ws, a.kind, args[0], body)
		if err != nil {
			return err
		}
		return s.print(o, func(w io.Writer) { a.detail(w, o) })
	})
	cmd.Flags().StringVar(&name, "name", "", "a new name")
	cmd.Flags().StringVar(&description, "description", "", "a new description")
	if a.secret {
		cmd.Flags().BoolVar(&tokenStdin, "access-token-stdin", false, "read a new access token from stdin (an empty line is refused)")
	}
	return cmd
}

func (a *assetCLI) deleteCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID...",
		Short: "Delete " + a.noun + "s (with their versions)",
		Args:  cobra.MinimumNArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			return s.eachJob("deleted", args, func(id string) error {
				if err := s.client.DeleteAsset(s.ctx, ws, a.kind, id); err != nil {
					return err
				}
				s.message("deleted %s %s", a.noun, id)
				return nil
			})
		}),
	}
}

// simple builds a command that calls fn on one id and prints the answer.
func (a *assetCLI) simple(c *cli, use, short string, nargs int, fn func(s *session, ws string, args []string) (httpapi.Object, error)) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.MinimumNArgs(nargs),
		RunE: c.run(func(s *session, args []string) error {
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			o, err := fn(s, ws, args)
			if err != nil {
				return err
			}
			return s.print(o, func(w io.Writer) { a.detail(w, o) })
		}),
	}
}

func (a *assetCLI) publishCmd(c *cli) *cobra.Command {
	return a.simple(c, "publish ID", "Make a "+a.noun+" PUBLIC (never back)", 1, func(s *session, ws string, args []string) (httpapi.Object, error) {
		return s.client.PublishAsset(s.ctx, ws, a.kind, args[0])
	})
}

func (a *assetCLI) labelCmd(c *cli) *cobra.Command {
	return a.simple(c, "label ID KEY=VALUE...", "Add or change labels of a "+a.noun, 2, func(s *session, ws string, args []string) (httpapi.Object, error) {
		l, err := parseLabels("label", args[1:])
		if err != nil {
			return nil, err
		}
		return s.client.AddAssetLabels(s.ctx, ws, a.kind, args[0], l)
	})
}

func (a *assetCLI) unlabelCmd(c *cli) *cobra.Command {
	return a.simple(c, "unlabel ID KEY", "Remove a label of a "+a.noun, 2, func(s *session, ws string, args []string) (httpapi.Object, error) {
		return s.client.RemoveAssetLabel(s.ctx, ws, a.kind, args[0], args[1])
	})
}

func (a *assetCLI) ownerCmd(c *cli) *cobra.Command {
	return a.simple(c, "set-owner ID USER", "Give a "+a.noun+" to another member (Admin; USER is a user id or name)", 2, func(s *session, ws string, args []string) (httpapi.Object, error) {
		req := httpapi.ChangeOwnerRequest{UserName: args[1]}
		if strings.HasPrefix(args[1], "u-") {
			req = httpapi.ChangeOwnerRequest{UserID: args[1]}
		}
		return s.client.ChangeAssetOwner(s.ctx, ws, a.kind, args[0], req)
	})
}

// --- Versions ---

func (a *assetCLI) versionCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{Use: "version", Aliases: []string{"versions"}, Short: "Create, list, show and delete versions of a " + a.noun}
	cmd.AddCommand(a.versionCreateCmd(c), a.versionListCmd(c),
		a.simple(c, "get ID VERSION", "Show a version", 2, func(s *session, ws string, args []string) (httpapi.Object, error) {
			return s.client.GetAssetVersion(s.ctx, ws, a.kind, args[0], args[1])
		}),
		&cobra.Command{Use: "delete ID VERSION", Short: "Delete a version", Args: cobra.ExactArgs(2),
			RunE: c.run(func(s *session, args []string) error {
				ws, err := s.workspaceID()
				if err != nil {
					return err
				}
				if err := s.client.DeleteAssetVersion(s.ctx, ws, a.kind, args[0], args[1]); err != nil {
					return err
				}
				s.message("deleted version %s of %s %s", args[1], a.noun, args[0])
				return nil
			})})
	return cmd
}

func (a *assetCLI) versionCreateCmd(c *cli) *cobra.Command {
	v := a.versions
	var (
		name, description string
		labels            []string
	)
	cmd := &cobra.Command{
		Use:     "create ID [flags]",
		Short:   "Create a version of a " + a.noun,
		Example: v.example,
		Args:    cobra.ExactArgs(1),
	}
	fill := fieldFlags(cmd, v.fields)
	var extra func(s *session, body map[string]any) error
	if v.extra != nil {
		extra = v.extra(cmd)
	}
	cmd.RunE = c.run(func(s *session, args []string) error {
		body := map[string]any{}
		if name != "" {
			body["versionName"] = name
		}
		if description != "" {
			body["description"] = description
		}
		l, err := parseLabels("--label", labels)
		if err != nil {
			return err
		}
		if len(l) > 0 {
			body["labels"] = l
		}
		fill(body)
		if extra != nil {
			if err := extra(s, body); err != nil {
				return err
			}
		}
		ws, err := s.workspaceID()
		if err != nil {
			return err
		}
		o, err := s.client.CreateAssetVersion(s.ctx, ws, a.kind, args[0], body)
		if err != nil {
			return err
		}
		return s.print(o, func(w io.Writer) { a.detail(w, o) })
	})
	if v.named {
		cmd.Flags().StringVar(&name, "name", "", "version name MAJOR.MINOR.PATCH[_suffix] (default 0.1.0, then the next minor)")
	}
	cmd.Flags().StringVar(&description, "description", "", "what changed")
	cmd.Flags().StringArrayVarP(&labels, "label", "l", nil, "a label key=value (repeatable)")
	return cmd
}

func (a *assetCLI) versionListCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "list ID",
		Aliases: []string{"ls"},
		Short:   "List a " + a.noun + "'s versions, newest first",
		Args:    cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			l, err := s.client.ListAssetVersions(s.ctx, ws, a.kind, args[0])
			if err != nil {
				return err
			}
			return s.print(l, func(w io.Writer) {
				head := append([]string{"VERSION"}, upper(a.versions.columns)...)
				fmt.Fprintln(w, strings.Join(append(head, "CREATOR", "AGE"), "\t"))
				for _, o := range l.Items {
					row := []string{o.String("versionName")}
					for _, col := range a.versions.columns {
						row = append(row, orDash(o.String(col)))
					}
					fmt.Fprintln(w, strings.Join(append(row, o.String("creatorName"), age(o.String("createdAt"))), "\t"))
				}
			})
		}),
	}
}

func upper(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToUpper(s)
	}
	return out
}
