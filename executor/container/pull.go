package container

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultPullTimeout bounds one image pull when Config.PullTimeout is 0.
const DefaultPullTimeout = 10 * time.Minute

// pullDirPattern names the private directories that hold an auth file
// for one pull; a leading '.' keeps them apart from job directories.
const pullDirPattern = ".pull-*"

// Credential is how to pull from one registry.
type Credential struct {
	// Registry names the registered registry, for messages and the log.
	Registry string
	// Username and Password sign in; both empty pulls anonymously.
	Username string
	Password string
	// Insecure pulls over plain HTTP or without verifying TLS.
	Insecure bool
}

// CredentialsFunc returns the credential for a registry host (host[:port]
// in lowercase, "docker.io" for images named without a host); ok is false
// when none is registered and the image is pulled as it is.
type CredentialsFunc func(ctx context.Context, host string) (c Credential, ok bool, err error)

// ImageHost returns the registry host an image name pulls from, as image
// references spell it: the first path component when it looks like a host
// (has a '.' or ':', or is localhost), else docker.io.
func ImageHost(image string) string {
	first, _, ok := strings.Cut(image, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return strings.ToLower(first)
	}
	return "docker.io"
}

// ensureImage makes image present in the local store, pulling it when
// missing (with the credentials registered for its host, within the pull
// timeout); the error is an executor.ImagePullError's cause and never
// holds the secret.
// It returns the image's configured user ("" when it runs as root).
func (e *Executor) ensureImage(ctx context.Context, image string) (string, error) {
	user, err := e.pm.imageUser(ctx, image)
	if err == nil || !noSuchObject(err) {
		return user, err
	}
	if image == "host" {
		return "", errors.New(`"host" runs a pod on the host itself, which this server does not do: it runs pods in containers, so name an OCI image`)
	}
	if strings.HasPrefix(image, "localhost/") {
		return "", errors.New("not in the local image store (images named localhost/… are never pulled)")
	}
	host := ImageHost(image)
	var cred *Credential
	if e.cfg.Credentials != nil {
		c, ok, err := e.cfg.Credentials(ctx, host)
		if err != nil {
			return "", fmt.Errorf("cannot read the credentials registered for %s: %w", host, err)
		}
		if ok {
			cred = &c
		}
	}
	timeout := e.cfg.PullTimeout
	if timeout <= 0 {
		timeout = DefaultPullTimeout
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	log := e.logger.With("image", image, "registry", host)
	if cred != nil {
		log = log.With("registryName", cred.Registry, "signedIn", cred.Username != "", "insecure", cred.Insecure)
	}
	log.Info("pulling image")
	err = e.pull(pctx, image, host, cred)
	switch {
	case err != nil && errors.Is(pctx.Err(), context.DeadlineExceeded):
		err = fmt.Errorf("the pull did not finish within %s", timeout)
	case err != nil && cred != nil:
		err = fmt.Errorf("registry %q (%s) answered: %w", cred.Registry, host, err)
	}
	if err != nil {
		log.Warn("image pull failed", "after", time.Since(start).Round(time.Millisecond), "err", err)
		return "", err
	}
	log.Info("pulled image", "after", time.Since(start).Round(time.Millisecond))
	return e.pm.imageUser(ctx, image)
}

// pull runs podman pull. A credential's secret reaches podman only in an
// auth file, mode 0600 in a private directory under the executor's own,
// removed as soon as the pull ends: never in argv (visible in /proc), the
// environment or an error.
func (e *Executor) pull(ctx context.Context, image, host string, cred *Credential) error {
	args := []string{"pull", "--quiet"}
	if cred != nil && cred.Insecure {
		args = append(args, "--tls-verify=false")
	}
	if cred != nil && (cred.Username != "" || cred.Password != "") {
		dir, err := os.MkdirTemp(e.cfg.Dir, pullDirPattern)
		if err != nil {
			return fmt.Errorf("container: %w", err)
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "auth.json")
		if err := writeAuthFile(path, host, cred.Username, cred.Password); err != nil {
			return err
		}
		args = append(args, "--authfile", path)
	}
	_, err := e.pm.run(ctx, append(args, image)...)
	var pe *podmanError
	if errors.As(err, &pe) {
		err = errors.New(pe.msg)
	}
	if err != nil && cred != nil {
		err = errors.New(redact(err.Error(), cred))
	}
	return err
}

// writeAuthFile writes the containers-auth.json podman reads with
// --authfile: {"auths": {host: {"auth": base64(user:password)}}}.
func writeAuthFile(path, host, user, password string) error {
	b, err := json.Marshal(map[string]any{"auths": map[string]any{
		host: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + password))}}})
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("container: auth file: %w", err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("container: auth file: %w", err)
	}
	return nil
}

// redact removes the secret from a message, should a registry or podman
// ever echo it.
func redact(msg string, c *Credential) string {
	if len(c.Password) < 4 {
		return msg
	}
	auth := base64.StdEncoding.EncodeToString([]byte(c.Username + ":" + c.Password))
	return strings.NewReplacer(auth, "[redacted]", c.Password, "[redacted]").Replace(msg)
}

// removeStalePullDirs removes auth files a crash left behind.
func removeStalePullDirs(dir string) {
	stale, _ := filepath.Glob(filepath.Join(dir, pullDirPattern))
	for _, d := range stale {
		_ = os.RemoveAll(d)
	}
}
