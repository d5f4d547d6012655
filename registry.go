package atrium

import (
	"context"
	"net"
	"strconv"
	"strings"
	"time"
)

// PrefixRegistry starts the id of an image registry.
const PrefixRegistry = "reg-"

// Registry is an OCI image registry that a ResourceAdmin registered, with
// the credentials pods use to pull images from it. Registries are
// platform-wide: a job's image that names the host is pulled with them,
// whatever the workspace.
type Registry struct {
	ID   string `json:"registryId"`
	Name string `json:"name"`
	// Host is host[:port] as image names spell it (lowercase), unique
	// platform-wide: registry.example.com, 127.0.0.1:5000.
	Host     string `json:"host"`
	Username string `json:"username"`
	// Password is the password or token sealed with the server's secret
	// box (aad = the registry id); nil when none. It never leaves the
	// store in an answer.
	Password []byte `json:"-"`
	// Insecure pulls over plain HTTP or without verifying TLS (a test
	// registry on loopback).
	Insecure    bool      `json:"insecure"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// RegistryUpdate changes a registry; nil means unchanged. A Password of
// length 0 removes the password.
type RegistryUpdate struct {
	Name        *string
	Host        *string
	Username    *string
	Password    *[]byte
	Insecure    *bool
	Description *string
}

// RegistryService keeps the image registries.
type RegistryService interface {
	// CreateRegistry inserts r (ID set when empty); ECONFLICT when the name
	// or the host is taken.
	CreateRegistry(ctx context.Context, r *Registry) error
	// FindRegistryByID returns ENOTFOUND if absent.
	FindRegistryByID(ctx context.Context, id string) (*Registry, error)
	// FindRegistryByHost returns the registry of host (compared in
	// lowercase); ENOTFOUND if none.
	FindRegistryByHost(ctx context.Context, host string) (*Registry, error)
	// FindRegistries lists every registry by name.
	FindRegistries(ctx context.Context) ([]*Registry, error)
	// UpdateRegistry applies upd; ENOTFOUND if absent, ECONFLICT when the
	// new name or host is taken.
	UpdateRegistry(ctx context.Context, id string, upd RegistryUpdate) (*Registry, error)
	// DeleteRegistry returns ENOTFOUND if absent.
	DeleteRegistry(ctx context.Context, id string) error
}

// ParseRegistryHost checks a registry host as image names spell it —
// host[:port], no scheme, no path — and returns it in lowercase. field
// names the input in the error.
func ParseRegistryHost(field, s string) (string, error) {
	const example = "host[:port], such as registry.example.com or 127.0.0.1:5000"
	switch {
	case s == "":
		return "", FieldErrorf(field, "is required: %s", example)
	case strings.Contains(s, "://"):
		return "", FieldErrorf(field, "must not start with a scheme such as https://: give %s", example)
	case strings.Contains(s, "/"):
		return "", FieldErrorf(field, "must not hold a path: give %s (the repository belongs in the image name)", example)
	case strings.ContainsAny(s, "@ \t\r\n"):
		return "", FieldErrorf(field, "must be %s, without user name or spaces", example)
	}
	h := strings.ToLower(s)
	name, port := h, ""
	if i := strings.LastIndexByte(h, ':'); i >= 0 && i > strings.LastIndexByte(h, ']') {
		name, port = h[:i], h[i+1:]
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return "", FieldErrorf(field, "port %q must be a number from 1 to 65535", port)
		}
	}
	switch {
	case strings.HasPrefix(name, "["):
		ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(name, "["), "]"))
		if !strings.HasSuffix(name, "]") || ip == nil || ip.To4() != nil {
			return "", FieldErrorf(field, "%q is not a bracketed IPv6 address such as [::1]", name)
		}
	case !validDomain(name):
		return "", FieldErrorf(field, "%q is not a host name: letters, digits and '-' in dot-separated labels of at most 63 characters", name)
	case name == "localhost" && port == "":
		return "", FieldErrorf(field, "cannot be localhost without a port: images named localhost/… are local and never pulled")
	}
	return h, nil
}

func validDomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for l := range strings.SplitSeq(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
