// Package leader runs work on exactly one replica at a time: it campaigns
// for a lease in the database, runs the work while it holds it (with every
// store write fenced by the lease's generation), renews it, and stops the
// work as soon as it can no longer be sure it holds it.
package leader

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"atrium"
)

// Config says what to campaign for.
type Config struct {
	Store  atrium.LeaseService
	Name   string // lease name, e.g. "scheduler"
	Holder string // this replica; default Identity()
	// TTL is how long a lease outlives its holder's last renewal: another
	// replica takes over at most TTL (plus one retry) after a crash.
	TTL    time.Duration
	Logger *slog.Logger
}

// DefaultTTL gives a takeover within about 7 s of a leader's death.
const DefaultTTL = 6 * time.Second

// Identity names this process among replicas: its machine, pid and a
// random part (a restarted process is a new holder). The machine is
// $ATRIUM_REPLICA_NAME or the host name; it must differ between machines.
func Identity() string {
	host := machine()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// Run campaigns until ctx ends. Each time it wins, it calls lead with a
// context that carries the lease as a fence and is cancelled when the lease
// is lost; lead must return when that context ends. On shutdown the lease
// is released so another replica takes over at once.
func Run(ctx context.Context, cfg Config, lead func(ctx context.Context)) {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Holder == "" {
		cfg.Holder = Identity()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	retry := max(cfg.TTL/6, 100*time.Millisecond)
	for {
		l, err := cfg.Store.AcquireLease(ctx, cfg.Name, cfg.Holder, cfg.TTL)
		if err == nil {
			cfg.Logger.Info("leading", "lease", cfg.Name, "generation", l.Generation, "holder", cfg.Holder)
			hold(ctx, cfg, l, lead)
			if ctx.Err() != nil {
				return
			}
			cfg.Logger.Warn("lost the lead", "lease", cfg.Name, "generation", l.Generation)
		} else if atrium.ErrorCode(err) == atrium.ECONFLICT {
			if freed := freeDeadHolder(ctx, cfg); freed {
				continue // campaign again at once
			}
		} else if ctx.Err() == nil {
			cfg.Logger.Warn("cannot campaign for the lease", "lease", cfg.Name, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
	}
}

// hold runs lead while renewing l, and returns when l is lost or ctx ends.
func hold(ctx context.Context, cfg Config, l *atrium.Lease, lead func(context.Context)) {
	lctx, cancel := context.WithCancel(atrium.WithFence(ctx, l))
	done := make(chan struct{})
	go func() {
		defer close(done)
		lead(lctx)
	}()
	defer func() {
		cancel()
		<-done
		if ctx.Err() != nil {
			rctx, stop := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer stop()
			if err := cfg.Store.ReleaseLease(rctx, l); err != nil {
				cfg.Logger.Warn("cannot release the lease", "lease", cfg.Name, "err", err)
			}
		}
	}()
	tick := time.NewTicker(cfg.TTL / 3)
	defer tick.Stop()
	// Stop leading a margin before the lease could expire unrenewed: then
	// nobody else can have it while this replica still acts.
	deadline := time.Now().Add(cfg.TTL - cfg.TTL/4)
	for {
		select {
		case <-ctx.Done():
			return
		case <-done:
			return // the work ended by itself
		case <-tick.C:
		}
		start := time.Now()
		next, err := cfg.Store.RenewLease(ctx, l, cfg.TTL)
		switch {
		case err == nil:
			*l = *next
			deadline = start.Add(cfg.TTL - cfg.TTL/4)
		case atrium.ErrorCode(err) == atrium.EFENCED:
			return
		default:
			cfg.Logger.Warn("cannot renew the lease", "lease", cfg.Name, "err", err)
			if time.Now().After(deadline) {
				return
			}
		}
	}
}

// freeDeadHolder releases the lease when its holder is a process of this
// host that no longer exists (this server before a crash and restart), so a
// restart does not wait out the TTL. It reports whether it freed the lease.
func freeDeadHolder(ctx context.Context, cfg Config) bool {
	cur, err := cfg.Store.FindLease(ctx, cfg.Name)
	if err != nil || !deadLocal(cur.Holder) {
		return false
	}
	if err := cfg.Store.ReleaseLease(ctx, cur); err != nil {
		return false
	}
	cfg.Logger.Info("took over the lease of a process that exited", "lease", cfg.Name, "holder", cur.Holder)
	return true
}

// deadLocal: holder names a process of this host (see Identity) that is gone.
func deadLocal(holder string) bool {
	parts := strings.Split(holder, "/")
	if len(parts) != 3 || parts[0] != machine() {
		return false
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil || pid <= 0 || pid == os.Getpid() {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

func machine() string {
	if n := os.Getenv("ATRIUM_REPLICA_NAME"); n != "" {
		return strings.ReplaceAll(n, "/", "-")
	}
	host, _ := os.Hostname()
	return host
}
