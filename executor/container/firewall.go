package container

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// The attempt networks are internal (no route out), but the host itself
// answers on each network's gateway address: a service listening on all
// of the host's addresses (Atrium with --addr 0.0.0.0:8080, a database…)
// would be reachable from a job. The firewall drops what a job's network
// sends to the host, except DNS to podman's resolver, which gives pods
// each other's names, and answers to the host's own connections. It needs root and iptables; without them jobs still
// reach only what listens on all addresses, and the log says so.
const firewallChain = "ATRIUM-JOBS"

type firewall struct {
	bin string
	mu  sync.Mutex
}

// firewallLock is held across processes (servers, tests) while one of
// them changes both the job networks and the chain, so a refresh never
// drops the rule of a network created meanwhile.
var firewallLock = filepath.Join(os.TempDir(), "atrium-jobs-firewall.lock")

// locked runs fn under the cross-process lock.
func (f *firewall) locked(fn func() error) error {
	l, err := os.OpenFile(firewallLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer l.Close()
	if err := syscall.Flock(int(l.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(int(l.Fd()), syscall.LOCK_UN)
	return fn()
}

// newFirewall prepares the chain (and its jump from INPUT); nil with the
// reason when it cannot.
func newFirewall(ctx context.Context) (*firewall, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("not root (rootless podman gives each job its own network namespace without a path to the host's)")
	}
	bin, err := exec.LookPath("iptables")
	if err != nil {
		return nil, fmt.Errorf("no iptables: %w", err)
	}
	f := &firewall{bin: bin}
	if err := f.run(ctx, "-w", "-n", "-L", firewallChain); err != nil {
		if err := f.run(ctx, "-w", "-N", firewallChain); err != nil {
			return nil, err
		}
	}
	if f.run(ctx, "-w", "-C", "INPUT", "-j", firewallChain) != nil {
		if err := f.run(ctx, "-w", "-I", "INPUT", "1", "-j", firewallChain); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (f *firewall) run(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, f.bin, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %s: %s", strings.Join(args, " "), strings.TrimSpace(string(out)))
	}
	return nil
}

// rules are the chain's rules for one bridge interface, in order.
func firewallRules(iface string) [][]string {
	return [][]string{
		// Answers to the host's own connections (Atrium's notebook proxy).
		{"-i", iface, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"},
		{"-i", iface, "-p", "udp", "--dport", "53", "-j", "ACCEPT"},
		{"-i", iface, "-p", "tcp", "--dport", "53", "-j", "ACCEPT"},
		{"-i", iface, "-j", "DROP"},
	}
}

// close cuts the host off from the bridge iface.
func (f *firewall) close(ctx context.Context, iface string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range firewallRules(iface) {
		if f.run(ctx, append([]string{"-w", "-C", firewallChain}, r...)...) == nil {
			continue
		}
		if err := f.run(ctx, append([]string{"-w", "-A", firewallChain}, r...)...); err != nil {
			return err
		}
	}
	return nil
}

// open removes iface's rules, when its network is gone (podman may give
// the name to a network that is not a job's).
func (f *firewall) open(ctx context.Context, iface string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range firewallRules(iface) {
		for f.run(ctx, append([]string{"-w", "-D", firewallChain}, r...)...) == nil {
		}
	}
}
