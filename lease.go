package atrium

import (
	"context"
	"time"
)

// Lease is a named, expiring claim held by one server: the scheduling loop
// runs only on the replica holding the "scheduler" lease. Generation grows
// with every change of holder, and fences writes (WithFence): once another
// replica takes the lease over, writes of the old holder fail.
type Lease struct {
	Name       string    `json:"name"`
	Holder     string    `json:"holder"`
	Generation int64     `json:"generation"`
	ExpiresAt  time.Time `json:"expiresAt"`
}

// LeaseService hands out leases.
type LeaseService interface {
	// AcquireLease takes the lease for holder when it is free, expired or
	// already holder's (then it is renewed with the same generation); a
	// takeover increments the generation. ECONFLICT names the current
	// holder while it is someone else's and alive.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (*Lease, error)
	// RenewLease extends l; EFENCED when l is no longer held (expired and
	// taken, or released).
	RenewLease(ctx context.Context, l *Lease, ttl time.Duration) (*Lease, error)
	// ReleaseLease gives l up so another replica can take it at once.
	ReleaseLease(ctx context.Context, l *Lease) error
	// FindLease reads a lease (ENOTFOUND when never taken).
	FindLease(ctx context.Context, name string) (*Lease, error)
}

type fenceKey struct{}

// WithFence makes every store write under ctx check, in its own
// transaction, that l is still held with its generation; a paused former
// leader therefore cannot write after losing the lease.
func WithFence(ctx context.Context, l *Lease) context.Context {
	return context.WithValue(ctx, fenceKey{}, *l)
}

// WithoutFence drops ctx's fence, if any.
func WithoutFence(ctx context.Context) context.Context {
	if _, ok := FenceFrom(ctx); !ok {
		return ctx
	}
	return context.WithValue(ctx, fenceKey{}, nil)
}

// FenceFrom returns the lease ctx is fenced by.
func FenceFrom(ctx context.Context) (Lease, bool) {
	l, ok := ctx.Value(fenceKey{}).(Lease)
	return l, ok
}
