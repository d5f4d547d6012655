package container

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// One `podman container inspect` costs about 0.2 s, and the scheduling
// loop asks about every live job on every pass. So the executor asks
// podman once per pass for the state of all its containers (`podman ps`,
// cheap), and inspects an attempt's containers in full only when one of
// them changed state since the last full look: exact start and end times,
// exit codes, OOM verdicts and addresses come from that look.

// snapshotTTL is how long one `podman ps` answers for; passes of one loop
// are further apart, the Inspects within a pass closer.
const snapshotTTL = 300 * time.Millisecond

type snapshot struct {
	at     time.Time
	states map[string]string // container name → state (running, exited…)
}

// containers returns the full state of the named containers that exist.
func (e *Executor) containers(ctx context.Context, names []string) (map[string]inspected, error) {
	if states, err := e.states(ctx); err == nil {
		e.mu.Lock()
		out := make(map[string]inspected, len(names))
		for _, n := range names {
			st, ok := states[n]
			last, seen := e.last[n]
			if !ok || !seen || st != last.State.Status {
				out = nil
				break
			}
			out[n] = last
		}
		e.mu.Unlock()
		if out != nil {
			return out, nil
		}
	}
	found, err := e.pm.inspect(ctx, names)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	for n, c := range found {
		e.last[n] = c
	}
	e.mu.Unlock()
	return found, nil
}

// states is the state of every container of this executor, from a
// snapshot at most snapshotTTL old.
func (e *Executor) states(ctx context.Context) (map[string]string, error) {
	e.mu.Lock()
	s := e.snap
	e.mu.Unlock()
	if s != nil && time.Since(s.at) < snapshotTTL {
		return s.states, nil
	}
	at := time.Now()
	out, err := e.pm.run(ctx, "ps", "--all", "--filter", "label="+dirLabel+"="+e.cfg.Dir, "--format", "json")
	if err != nil {
		return nil, err
	}
	var list []struct {
		Names []string
		State string
	}
	if err := json.Unmarshal(out, &list); err != nil {
		return nil, fmt.Errorf("container: podman ps: %w", err)
	}
	s = &snapshot{at: at, states: make(map[string]string, len(list))}
	for _, c := range list {
		for _, n := range c.Names {
			s.states[n] = c.State
		}
	}
	e.mu.Lock()
	e.snap = s
	e.mu.Unlock()
	return s.states, nil
}

// changed drops the snapshot: containers were started, stopped or ended.
func (e *Executor) changed() {
	e.mu.Lock()
	e.snap = nil
	e.mu.Unlock()
}

// forget drops what is known of removed containers.
func (e *Executor) forget(names []string) {
	e.mu.Lock()
	for _, n := range names {
		delete(e.last, n)
	}
	e.snap = nil
	e.mu.Unlock()
}
