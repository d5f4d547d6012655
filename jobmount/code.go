package jobmount

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"atrium"
	"atrium/executor"
)

// EnvCodeDir names where a job's code source checkout is in its pods.
const EnvCodeDir = "ATRIUM_CODE_DIR"

// cloneTimeout bounds one checkout: the scheduling loop waits for it.
const cloneTimeout = time.Minute

// Opener unseals a code source's access token (secret.Box).
type Opener interface {
	Open(sealed, aad []byte) ([]byte, error)
}

type codeSpec struct {
	Repo   string `json:"repo"`
	Branch string `json:"branch"`
	Commit string `json:"commit"`
}

// codeMount checks the job's code source out into <CodeDir>/<jobId> and
// binds it read-only at its mountPath. Git runs with nothing of the
// server's: no config, no credential helpers, no SSH keys, and only
// http(s) and git transports, so a member's repo URL cannot make Atrium
// read the host's files or use its identities.
func (r *Resolver) codeMount(ctx context.Context, j *atrium.Job) ([]executor.Mount, error) {
	c := j.Spec.CodeSource
	if c == nil || r.CodeDir == "" {
		return nil, nil
	}
	a, err := r.Store.FindAssetByID(ctx, c.CodeSourceID)
	if atrium.ErrorCode(err) == atrium.ENOTFOUND || (err == nil && (a.Kind != atrium.AssetCodeSource || !usable(a, j))) {
		return nil, fmt.Errorf("codeSource.codeSourceId: %s is not a code source this job's creator may use", c.CodeSourceID)
	} else if err != nil {
		return nil, err
	}
	var spec codeSpec
	if err := json.Unmarshal(a.Spec, &spec); err != nil {
		return nil, fmt.Errorf("codeSource %s: %w", a.ID, err)
	}
	u, err := url.Parse(spec.Repo)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "git") {
		return nil, fmt.Errorf("codeSource.codeSourceId: %s: only https, http and git repositories are checked out (Atrium holds no SSH keys and never reads the host's files for a job)", spec.Repo)
	}
	branch, commit := cmp.Or(c.Branch, spec.Branch), cmp.Or(c.Commit, spec.Commit)
	// Checked again here: they become git's arguments, and a code source
	// stored before the rule existed is not.
	if (branch != "" && !atrium.ValidGitBranch(branch)) || (commit != "" && !atrium.ValidGitCommit(commit)) {
		return nil, fmt.Errorf("codeSource: branch %q or commit %q is not valid", branch, commit)
	}
	dir := filepath.Join(r.CodeDir, j.ID)
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		if err := r.clone(ctx, a, spec.Repo, branch, commit, dir); err != nil {
			return nil, err
		}
	}
	return []executor.Mount{{Source: dir, Target: c.MountPath, ReadOnly: true, Env: EnvCodeDir}}, nil
}

func (r *Resolver) clone(ctx context.Context, a *atrium.Asset, repo, branch, commit, dir string) error {
	home, err := os.MkdirTemp("", "atrium-git-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(home)
	tmp := dir + ".part"
	os.RemoveAll(tmp)
	env := []string{"HOME=" + home, "PATH=/usr/local/bin:/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_ASKPASS=/bin/false", "GIT_SSH_COMMAND=/bin/false", "GIT_ALLOW_PROTOCOL=http:https:git"}
	if len(a.Secret) > 0 {
		if r.Secrets == nil {
			return errors.New("codeSource: this server cannot open access tokens")
		}
		tok, err := r.Secrets.Open(a.Secret, []byte(a.ID))
		if err != nil {
			return fmt.Errorf("codeSource %s: cannot open its access token: %w", a.ID, err)
		}
		// In the environment, not argv: /proc/<pid>/cmdline is public.
		basic := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + string(tok)))
		env = append(env, "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.extraHeader", "GIT_CONFIG_VALUE_0=Authorization: Basic "+basic)
	}
	ctx, cancel := context.WithTimeout(ctx, cloneTimeout)
	defer cancel()
	git := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Env, cmd.Dir = env, home
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("git %s: %s", args[0], lastLine(string(out), err))
		}
		return nil
	}
	args := []string{"clone", "--quiet", "--no-recurse-submodules"}
	if commit == "" {
		args = append(args, "--depth", "1")
	}
	if branch != "" {
		args = append(args, "--branch", branch)
	}
	if err := git(append(args, "--", repo, tmp)...); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("codeSource %s: %w", a.ID, err)
	}
	if commit != "" {
		if err := git("-C", tmp, "checkout", "--quiet", "--detach", commit); err != nil {
			os.RemoveAll(tmp)
			return fmt.Errorf("codeSource %s: %w", a.ID, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o711); err != nil {
		return err
	}
	// Readable by the pods' user, whoever it is; written by no one.
	if err := filepath.Walk(tmp, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.Mode()&os.ModeSymlink != 0 {
			return err
		}
		mode := fi.Mode().Perm()&^0o222 | 0o444
		if fi.IsDir() {
			mode |= 0o111
		}
		return os.Chmod(p, mode)
	}); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}

func lastLine(out string, err error) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
		return l
	}
	return err.Error()
}

// usable: an asset a job may use is in the job's workspace and PUBLIC or
// its creator's own.
func usable(a *atrium.Asset, j *atrium.Job) bool {
	return a.WorkspaceID == j.WorkspaceID && (a.Accessibility == atrium.AccessPublic || a.Owner == j.Creator)
}
