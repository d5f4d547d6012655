package local

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// User is the unprivileged identity pods' commands run as when the server
// runs as root: the command gets this uid and gid and no supplementary
// groups, the supervisor above it stays root to record its exit.
type User struct {
	UID uint32 `json:"uid"`
	GID uint32 `json:"gid"`
}

// Nobody is the usual uid:gid of the unprivileged user nobody.
var Nobody = User{UID: 65534, GID: 65534}

func (u User) String() string { return fmt.Sprintf("%d:%d", u.UID, u.GID) }

// ParseUser reads "uid:gid" (numbers). Root's uid or gid is refused: a pod
// running as either could read or change what the server keeps.
func ParseUser(s string) (User, error) {
	us, gs, ok := strings.Cut(strings.TrimSpace(s), ":")
	uid, err1 := strconv.ParseUint(us, 10, 32)
	gid, err2 := strconv.ParseUint(gs, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return User{}, fmt.Errorf("%q is not uid:gid (two numbers, e.g. 65534:65534)", s)
	}
	// (uid_t)-1 means "leave unchanged" to setuid-family calls.
	if uid == 0 || gid == 0 || uid == 1<<32-1 || gid == 1<<32-1 {
		return User{}, fmt.Errorf("%q: pods never run as root (uid 0) or root's group (gid 0); give an unprivileged uid:gid such as 65534:65534 (nobody)", s)
	}
	return User{UID: uint32(uid), GID: uint32(gid)}, nil
}

// CheckReach says why u cannot walk down to dir (nil when it can): every
// directory from / to dir must let u search it, as the kernel decides for
// a process with u's uid and gid and no other group (access control lists
// aside).
func (u User) CheckReach(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for p := abs; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no owner information", p)
		}
		if !searchable(fi.Mode().Perm(), st.Uid, st.Gid, u) {
			return fmt.Errorf("uid %d cannot reach %s: %s is mode %04o owned by %d:%d", u.UID, abs, p, fi.Mode().Perm(), st.Uid, st.Gid)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// searchable applies the kernel's rule: the owner's bits if u owns the
// directory, else the group's if u's group does, else everyone's.
func searchable(perm fs.FileMode, uid, gid uint32, u User) bool {
	switch {
	case uid == u.UID:
		return perm&0o100 != 0
	case gid == u.GID:
		return perm&0o010 != 0
	}
	return perm&0o001 != 0
}

// MakePodDir makes the directory path (its parent must exist) for pods to
// work in: mode 0700, owned by u when u is set (the server runs as root),
// else by this process's user. An existing directory is taken over (given
// to u); anything else there is an error.
//
// The parent may be writable by pods (a pipeline run's directory, where a
// node's directory is made when the node starts): Lchown never follows a
// symbolic link a pod put in place, and no chmod is done after the Mkdir.
func MakePodDir(path string, u *User) error {
	if err := os.Mkdir(path, 0o700); errors.Is(err, fs.ErrExist) {
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s exists and is not a directory", path)
		}
	} else if err != nil {
		return err
	}
	if u == nil {
		return nil
	}
	return os.Lchown(path, int(u.UID), int(u.GID))
}

// prSetNoNewPrivs is PR_SET_NO_NEW_PRIVS of prctl(2).
const prSetNoNewPrivs = 38

// noNewPrivs sets no_new_privs on the calling thread, which every process
// it starts inherits: set-user-ID binaries and file capabilities grant
// nothing after that, so a pod cannot climb back to root (through sudo,
// su or a flawed set-uid tool). The caller locks its goroutine to the
// thread and starts the command from it.
func noNewPrivs() error {
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRCTL, prSetNoNewPrivs, 1, 0, 0, 0, 0); e != 0 {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", e)
	}
	return nil
}
