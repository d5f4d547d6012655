package local

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// procRef names one process for good: a pid alone can be recycled after the
// process ends, the pair (pid, start time in clock ticks since boot) cannot.
type procRef struct {
	PID   int
	Start uint64
}

func (r procRef) String() string { return fmt.Sprintf("%d:%d", r.PID, r.Start) }

func parseRef(s string) (procRef, error) {
	pid, start, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return procRef{}, fmt.Errorf("local: bad process reference %q (want pid:starttime)", s)
	}
	var r procRef
	var err1, err2 error
	r.PID, err1 = strconv.Atoi(pid)
	r.Start, err2 = strconv.ParseUint(start, 10, 64)
	if err := errors.Join(err1, err2); err != nil || r.PID <= 1 {
		// pid 1 and below are never ours, and kill(-1) would reach every process.
		return procRef{}, fmt.Errorf("local: bad process reference %q", s)
	}
	return r, nil
}

// procStat is what we need from /proc/<pid>/stat.
type procStat struct {
	State byte   // field 3: R, S, D, Z…
	PGrp  int    // field 5
	Start uint64 // field 22, clock ticks after boot
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	// The command name (field 2) is in parentheses and may itself hold
	// spaces and parentheses; the fields after the last ')' are plain.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("local: unreadable /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, fmt.Errorf("local: unreadable /proc/%d/stat", pid)
	}
	st := procStat{State: f[0][0]}
	if st.PGrp, err = strconv.Atoi(f[2]); err != nil {
		return procStat{}, fmt.Errorf("local: unreadable /proc/%d/stat: %w", pid, err)
	}
	if st.Start, err = strconv.ParseUint(f[19], 10, 64); err != nil {
		return procStat{}, fmt.Errorf("local: unreadable /proc/%d/stat: %w", pid, err)
	}
	return st, nil
}

// dead reports a process that has exited but is not reaped yet. Orphaned
// supervisors may stay zombies for good when PID 1 does not reap.
func (s procStat) dead() bool { return s.State == 'Z' || s.State == 'X' || s.State == 'x' }

// alive reports whether the process r names still runs.
func (r procRef) alive() bool {
	st, err := readStat(r.PID)
	return err == nil && st.Start == r.Start && !st.dead()
}

// ownsGroup reports whether signalling process group r.PID reaches only our
// processes: the leader is ours, or it is gone (a pid is not handed out
// again while it names a live process group, so survivors are ours).
func (r procRef) ownsGroup() bool {
	st, err := readStat(r.PID)
	if err != nil {
		return true
	}
	return st.Start == r.Start
}

// groupMembers lists the live (non-zombie) processes of process group pgid.
func groupMembers(pgid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil && st.PGrp == pgid && !st.dead() {
			pids = append(pids, pid)
		}
	}
	return pids
}
