package slurm

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"atrium"
	"atrium/executor"
)

// account is the Unix account an attempt runs as. Atrium submits the job
// by running sbatch as that account (Slurm then knows the job as the
// account's, as if it had submitted it itself; this works on every Slurm
// version, unlike sbatch --uid), after creating the attempt directory and
// its files owned by it. scancel and scontrol stay Atrium's: root may
// cancel and read any job.
type account struct {
	Name     string
	UID, GID uint32
	Groups   []uint32
	Home     string
	// Self: the account is Atrium's own user; nothing changes hands.
	Self bool
}

// lookupAccount resolves the account a task runs as and checks that Atrium
// may run a job as it: never root, and only itself unless Atrium is root.
func lookupAccount(t executor.Task) (*account, error) {
	if t.RunAs == "" {
		return nil, fmt.Errorf("slurm: job %s names no Unix account to run as; Slurm jobs never run as Atrium's own user by default "+
			"(a ResourceAdmin maps one with 'atrium rg account set')", t.JobID)
	}
	u, err := user.Lookup(t.RunAs)
	if err != nil {
		return nil, fmt.Errorf("slurm: the Unix account %q of job %s is unknown on Atrium's host (%v); Atrium creates the job's files as that account, "+
			"so it must exist here and on the cluster's nodes", t.RunAs, t.JobID, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("slurm: Unix account %q: %w", t.RunAs, err)
	}
	if uid == 0 || gid == 0 {
		return nil, fmt.Errorf("slurm: the Unix account %q of job %s is root (uid 0) or in root's group (it has uid %d, gid %d); Slurm jobs never run as root or in its group", t.RunAs, t.JobID, uid, gid)
	}
	a := &account{Name: u.Username, UID: uint32(uid), GID: uint32(gid), Home: u.HomeDir}
	if euid := os.Geteuid(); euid != 0 {
		if uint32(euid) != a.UID {
			me := strconv.Itoa(euid)
			if cur, err := user.Current(); err == nil {
				me = cur.Username
			}
			return nil, fmt.Errorf("slurm: job %s is to run as the Unix account %s, but Atrium runs as %s, not root, and can only submit Slurm jobs as itself; "+
				"run Atrium as root, or map %s to the workspace (atrium rg account set)", t.JobID, t.RunAs, me, me)
		}
		a.Self = true
		return a, nil
	}
	ids, _ := u.GroupIds()
	for _, id := range ids {
		if g, err := strconv.ParseUint(id, 10, 32); err == nil {
			a.Groups = append(a.Groups, uint32(g))
		}
	}
	return a, nil
}

// searchBlocker returns the first directory on the way to dir (dir
// included) that a cannot search, with why; "" when a reaches dir.
func (a *account) searchBlocker(dir string) string {
	if a.Self {
		return ""
	}
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Sprintf("%s: %v", p, err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		perm := fi.Mode().Perm()
		var ok bool
		switch {
		case st.Uid == a.UID:
			ok = perm&0o100 != 0
		case st.Gid == a.GID || slices.Contains(a.Groups, st.Gid):
			ok = perm&0o010 != 0
		default:
			ok = perm&0o001 != 0
		}
		if !ok {
			return fmt.Sprintf("%s (mode %04o, owner uid %d, group gid %d)", p, perm, st.Uid, st.Gid)
		}
		if p == "/" || p == "." {
			return ""
		}
	}
}

// give hands path to the account (nothing when it is Atrium's own).
func (a *account) give(path string) error {
	if a.Self {
		return nil
	}
	if err := os.Lchown(path, int(a.UID), int(a.GID)); err != nil {
		return fmt.Errorf("slurm: giving %s to the Unix account %s: %w", path, a.Name, err)
	}
	return nil
}

// credential makes a command run as the account (nil: as Atrium).
func (a *account) credential() *syscall.SysProcAttr {
	if a.Self {
		return nil
	}
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: a.UID, Gid: a.GID, Groups: a.Groups}}
}

// env is the environment of a command run as the account: Atrium's PATH
// and Slurm settings, the account's own identity, nothing else of Atrium's.
func (a *account) env() []string {
	if a.Self {
		return nil // inherit
	}
	env := []string{"HOME=" + a.Home, "USER=" + a.Name, "LOGNAME=" + a.Name}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "PATH" || k == "LANG" || k == "TZ" || strings.HasPrefix(k, "LC_") || k == "SLURM_CONF" {
			env = append(env, kv)
		}
	}
	return env
}

// checkImages refuses pods with an image: Atrium runs them on the nodes'
// hosts and starts no containers on Slurm.
func checkImages(t executor.Task) error {
	for _, p := range t.Pods {
		if p.Image != "" && p.Image != atrium.HostImage {
			return fmt.Errorf("slurm: pod %s asks for image %q, but the Slurm executor runs commands directly on the nodes' hosts and cannot run images; "+
				"set the image to %q to run there", p.Name, p.Image, atrium.HostImage)
		}
	}
	return nil
}

// openJobFile opens a file the job wrote in its attempt directory. The
// directory belongs to the job's account, which may put anything there, so
// Atrium (root) reads only a regular file of the directory's owner, never
// through a symbolic link: a job cannot make Atrium read, and show in its
// logs, a file its account could not read itself.
func openJobFile(dir, name string) (*os.File, error) {
	di, err := os.Lstat(dir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("slurm: %s is a symbolic link; Atrium does not follow it", path)
	} else if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Sys().(*syscall.Stat_t).Uid != di.Sys().(*syscall.Stat_t).Uid {
		f.Close()
		return nil, fmt.Errorf("slurm: %s is not a regular file of the job's account; Atrium does not read it", path)
	}
	return f, nil
}

// readJobFile reads up to limit bytes of a file the job wrote (see openJobFile).
func readJobFile(dir, name string, limit int64) ([]byte, error) {
	f, err := openJobFile(dir, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}

// writeMarker creates a file of Atrium's in the attempt directory, never
// through a link the job's account put there; one that exists stays.
func writeMarker(path string, body []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	} else if err != nil {
		return err
	}
	_, err = f.Write(body)
	return errors.Join(err, f.Close())
}
