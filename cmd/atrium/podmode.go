package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"atrium/dispatch"
	"atrium/executor/local"
)

// Process mode runs every pod as a plain host process (executor/local).
// This file makes that as safe as it can be: pods run as an unprivileged
// user when Atrium is root, the data directory is private, and the pods
// work in a directory of their own outside it. It also says, at start,
// what process mode does not give.

// defaultPodUser is nobody:nogroup on most distributions.
const defaultPodUser = "65534:65534"

// podConfig is the flags of the pods' user and directory.
type podConfig struct {
	user string // --pod-user uid:gid
	dir  string // --pod-dir
}

func addPodFlags(f *pflag.FlagSet, c *podConfig) {
	f.StringVar(&c.user, "pod-user", envOr("ATRIUM_POD_USER", defaultPodUser),
		"uid:gid that jobs' commands run as when Atrium runs as root, with no other group; never 0 (env ATRIUM_POD_USER)")
	f.StringVar(&c.dir, "pod-dir", envOr("ATRIUM_POD_DIR", ""),
		"directory of the jobs' working directories and pipeline runs, outside --data-dir; --pod-user must be able to reach it (default <data-dir>-pods) (env ATRIUM_POD_DIR)")
}

// podLayout is where pods work and who they run as.
type podLayout struct {
	dir  string      // --pod-dir, absolute
	user *local.User // nil: pods run as Atrium's own user (it is not root)
	// dswPage is what a DSW instance without a command runs when the pod
	// user cannot run this binary where it is; "" is the binary itself.
	dswPage string
}

// jobsDir holds the pods' working directories (<job>/<attempt>/<pod>).
func (p *podLayout) jobsDir() string { return filepath.Join(p.dir, "jobs") }

// runsDir holds the pipeline runs' directories (<run>/<node>/<output>).
func (p *podLayout) runsDir() string { return filepath.Join(p.dir, "pipeline-runs") }

// outputsDir holds the training jobs' output directories (<job>), kept
// after the jobs end.
func (p *podLayout) outputsDir() string { return filepath.Join(p.dir, "outputs") }

// slurmDir is the Slurm jobs' default work directory: the accounts they
// run as pass through the pod directory, never into the data directory.
func (p *podLayout) slurmDir() string { return filepath.Join(p.dir, "slurm") }

// codeDir holds the jobs' code source checkouts (<job>), read-only.
func (p *podLayout) codeDir() string { return filepath.Join(p.dir, "code") }

// makeDir makes a directory the pods own (a pipeline run's or node's).
func (p *podLayout) makeDir(path string) error { return local.MakePodDir(path, p.user) }

// preparePods checks the pod flags, makes the data directory private and
// the pod directory ready:
//
//	<data-dir>/              0700, files 0600: no pod can enter it
//	<pod-dir>/               0711: pods pass through, cannot list
//	<pod-dir>/jobs/          0711, a pod's working directory below is 0700, the pod user's
//	<pod-dir>/pipeline-runs/ 0711, a run's directory below is 0700, the pod user's
func preparePods(dataDir string, c podConfig, logger *slog.Logger) (*podLayout, error) {
	u, err := local.ParseUser(c.user)
	if err != nil {
		return nil, fmt.Errorf("--pod-user: %w", err)
	}
	data, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("--data-dir: %w", err)
	}
	p := &podLayout{dir: c.dir}
	if p.dir == "" {
		p.dir = data + "-pods"
	}
	if p.dir, err = filepath.Abs(p.dir); err != nil {
		return nil, fmt.Errorf("--pod-dir: %w", err)
	}
	if within(p.dir, data) || within(data, p.dir) {
		return nil, fmt.Errorf("--pod-dir %s: must be outside --data-dir %s and not hold it: pods must not reach Atrium's files", p.dir, data)
	}
	if err := privateDataDir(data, logger); err != nil {
		return nil, fmt.Errorf("--data-dir: %w", err)
	}
	for _, d := range []string{p.dir, p.jobsDir(), p.runsDir(), p.outputsDir(), p.codeDir()} {
		if err := ownDir(d, 0o711); err != nil {
			return nil, fmt.Errorf("--pod-dir: %w", err)
		}
	}
	if os.Geteuid() != 0 {
		if c.user != defaultPodUser {
			logger.Warn("--pod-user is ignored: Atrium does not run as root, so jobs run as its own user", "uid", os.Geteuid())
		}
		return p, nil
	}
	if err := u.CheckReach(p.dir); err != nil {
		return nil, fmt.Errorf("--pod-dir: %w; give a --pod-dir the pod user can reach, such as /var/lib/atrium-pods", err)
	}
	p.user = &u
	if err := p.copyBinary(logger); err != nil {
		return nil, fmt.Errorf("--pod-dir: %w", err)
	}
	return p, nil
}

// copyBinary gives the pod user a copy of this binary, <pod-dir>/bin/atrium,
// when it cannot run the binary where it is (in a private directory, such
// as the one `go run` builds in): DSW instances without a command run its
// built-in page (atrium dsw-page) as the pod user.
func (p *podLayout) copyBinary(logger *slog.Logger) error {
	exe, err := os.Executable()
	if err == nil {
		exe, err = filepath.EvalSymlinks(exe)
	}
	if err != nil || p.user.CheckReach(exe) == nil {
		return nil // dispatch finds the binary itself, or says why not
	}
	bin := filepath.Join(p.dir, "bin")
	if err := ownDir(bin, 0o711); err != nil {
		return err
	}
	src, err := os.Open(exe)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp, err := os.CreateTemp(bin, ".atrium-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, src)
	if err == nil {
		err = tmp.Chmod(0o755)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	dst := filepath.Join(bin, "atrium")
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		return err
	}
	p.dswPage = dispatch.ShellQuote(dst) + " dsw-page"
	logger.Info("the pod user cannot run this binary where it is; DSW instances without a command run a copy", "binary", exe, "copy", dst)
	return nil
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// privateMarker in the data directory says its files were made private.
const privateMarker = ".private"

// atriumEntries are what Atrium writes in the data directory.
var atriumEntries = []string{"atrium.db", "atrium.db-wal", "atrium.db-shm", "atrium.db-journal", "admin.token", "secret.key",
	"pods", "slurm", "pipeline-runs", "containers"}

// privateDataDir makes dir (created if needed) 0700 and takes group and
// other permissions from Atrium's entries in it (atriumEntries, with
// everything below them), so files of older versions or made by SQLite are
// the server's alone. Other entries, and symbolic links (chmod would
// follow them), are left alone: behind a 0700 directory no pod reaches
// them anyway.
func privateDataDir(dir string, logger *slog.Logger) error {
	if err := ownDir(dir, 0o700); err != nil {
		return err
	}
	// The walk is for files an older version left: once done, what this
	// version writes is private already, and a walk of every job's logs at
	// every start would grow with the history.
	marker := filepath.Join(dir, privateMarker)
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	fixed := 0
	for _, name := range atriumEntries {
		err := filepath.WalkDir(filepath.Join(dir, name), func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.Type()&fs.ModeSymlink == 0 {
				var fi fs.FileInfo
				if fi, err = d.Info(); err == nil {
					perm, want := fi.Mode().Perm(), fi.Mode().Perm()&^0o077
					if d.IsDir() {
						want = 0o700
					}
					if perm != want || fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
						err = os.Chmod(path, want)
						fixed++
					}
				}
			}
			if errors.Is(err, fs.ErrNotExist) {
				return nil // absent, or gone meanwhile (a temporary file)
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	if fixed > 0 {
		logger.Info("made Atrium's files in the data directory private (directories 0700, files without group or other permissions)", "dir", dir, "changed", fixed)
	}
	return os.WriteFile(marker, nil, 0o600)
}

// ownDir makes dir (and missing parents) with perm, or gives an existing
// dir perm. A directory everyone may write (/tmp) is refused: it is
// nobody's own, and changing its mode would break the host.
func ownDir(dir string, perm os.FileMode) error {
	if fi, err := os.Stat(dir); err == nil && (fi.Mode().Perm()&0o002 != 0 || fi.Mode()&fs.ModeSticky != 0) {
		return fmt.Errorf("%s is writable by everyone (mode %04o): give a directory of Atrium's own", dir, fi.Mode().Perm())
	}
	if err := os.MkdirAll(dir, perm); err != nil {
		return err
	}
	return os.Chmod(dir, perm)
}

// warnNotIsolated says at start what process mode does not give.
func warnNotIsolated(logger *slog.Logger, p *podLayout) {
	if p.user != nil {
		logger.Warn(fmt.Sprintf("jobs are not isolated: they run as host processes as uid %d, which can reach everything on this host's network, "+
			"including Atrium's API, and all jobs share that uid (install a container runtime to isolate them)", p.user.UID),
			"runtime", "process", "podUser", p.user.String(), "podDir", p.dir)
		return
	}
	logger.Warn(fmt.Sprintf("jobs are not isolated: they run as host processes as uid %d, Atrium's own user (it is not root, so it cannot run them "+
		"as another), which can read and change Atrium's data directory and reach everything on this host's network, including Atrium's API "+
		"(install a container runtime to isolate them)", os.Geteuid()),
		"runtime", "process", "podDir", p.dir)
}
