package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"atrium"
	"atrium/console"
	"atrium/executor/container"
	"atrium/hostcap"
	"atrium/httpapi"
	"atrium/leader"
	"atrium/secret"
	"atrium/sqlrunner"
	"atrium/sqlstore"
)

type serveConfig struct {
	localCapacity string
	addr          string
	dataDir       string
	databaseURL   string
	logFormat     string
	logLevel      string
	notify        notifyConfig
	runtime       runtimeConfig
	pods          podConfig
	dsw           dswConfig
}

func newServeCmd() *cobra.Command {
	cfg := serveConfig{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Atrium server",
		Long: `Run the Atrium server: the REST API under /api/v1, the web console,
/healthz, /readyz and /metrics on --addr, and the DSW origin on --dsw-addr.

The DSW origin serves notebook (DSW) instances apart from the console, so an
instance's page can never act as the person viewing it. The console's Open
button and 'atrium dsw open' send a browser there with a one-time link.
Give --dsw-url when browsers reach it elsewhere than http://<dsw-addr>
(behind a TLS proxy, or on a host name of its own). Instance pages run
sandboxed, without an origin, so only self-contained pages work; for
Jupyter-like pages give the DSW origin a domain whose cookies the console
never sees and --dsw-same-origin (docs/operations.md).

By default the data lives in an embedded SQLite database in --data-dir; give
--database-url postgres://… to use PostgreSQL instead. On the first start with
an empty database Atrium creates the user 'admin' (platform role
ResourceAdmin) and writes its API token to <data-dir>/admin.token (mode 0600).

Jobs of the local resource group run as plain host processes (process
mode): they are not isolated, and can reach everything on this host's
network, Atrium's API included. Atrium keeps --data-dir private (0700, its
files 0600); when it runs as root, each job's command runs as --pod-user
(never root), in a working directory of its own under --pod-dir, outside
the data directory. When Atrium is not root, jobs run as its own user and
can read its data directory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return serve(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.addr, "addr", envOr("ATRIUM_ADDR", "127.0.0.1:8080"), "listen address (env ATRIUM_ADDR)")
	addStoreFlags(f, &cfg.dataDir, &cfg.databaseURL)
	f.StringVar(&cfg.localCapacity, "local-capacity", envOr("ATRIUM_LOCAL_CAPACITY", ""),
		"override what this host offers to the local executor, e.g. cpu=8,memory=32Gi,gpu=4,gpuType=T4 (env ATRIUM_LOCAL_CAPACITY)")
	f.StringVar(&cfg.runtime.runtime, "runtime", envOr("ATRIUM_RUNTIME", runtimeAuto),
		"how the local resource group runs pods: podman (containers: the job's image, cgroup limits, a non-root user, a network per job, only its mounts), "+
			"process (host processes, not isolated: for a machine without a container runtime), or auto: podman when it works here (env ATRIUM_RUNTIME)")
	f.StringVar(&cfg.runtime.containerUser, "container-user", envOr("ATRIUM_CONTAINER_USER", container.DefaultUser),
		"uid:gid that containers run as when their image's user is root or a name (not a non-root uid); never 0 (env ATRIUM_CONTAINER_USER)")
	f.StringSliceVar(&cfg.runtime.datasetRoots, "dataset-root", envList("ATRIUM_DATASET_ROOTS"),
		"host directory that file:// data sources may name, mounted read-only into containers; repeat for several (env ATRIUM_DATASET_ROOTS, comma-separated)")
	f.StringVar(&cfg.runtime.pullTimeout, "image-pull-timeout", envOr("ATRIUM_IMAGE_PULL_TIMEOUT", container.DefaultPullTimeout.String()),
		"give up pulling a job's image after this long and fail the job with ImagePullFailed (env ATRIUM_IMAGE_PULL_TIMEOUT)")
	f.StringVar(&cfg.logFormat, "log-format", envOr("ATRIUM_LOG_FORMAT", "text"), "log format: text or json (env ATRIUM_LOG_FORMAT)")
	addNotifyFlags(f, &cfg.notify)
	addPodFlags(f, &cfg.pods)
	addDSWFlags(f, &cfg.dsw)
	f.StringVar(&cfg.logLevel, "log-level", envOr("ATRIUM_LOG_LEVEL", "info"), "log level: debug, info, warn or error (env ATRIUM_LOG_LEVEL)")
	return cmd
}

func newLogger(format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: must be debug, info, warn or error")
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: must be text or json")
}

func serve(ctx context.Context, cfg serveConfig) error {
	logger, err := newLogger(cfg.logFormat, cfg.logLevel)
	if err != nil {
		return err
	}
	capacity, err := hostcap.Override(hostcap.Detect(ctx), cfg.localCapacity)
	if err != nil {
		return err
	}
	pods, err := preparePods(cfg.dataDir, cfg.pods, logger)
	if err != nil {
		return err
	}
	db, err := openStore(ctx, cfg.dataDir, cfg.databaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	logger.Info("database ready", "engine", db.Engine())

	if err := bootstrap(ctx, db, cfg.dataDir, logger); err != nil {
		return err
	}
	if err := registerLocal(ctx, db, capacity, logger); err != nil {
		return err
	}

	key, err := secret.LoadKey(cfg.dataDir)
	if err != nil {
		return err
	}
	box, err := secret.NewBox(key)
	if err != nil {
		return err
	}
	// Pods pull images with the credentials of the registry registered for their host.
	cfg.runtime.credentials = registryCredentials(db, box)
	jobs, err := startJobs(ctx, db, cfg.dataDir, pods, cfg.runtime, box, logger)
	if err != nil {
		return err
	}
	defer jobs.stop()

	api := httpapi.NewServer(db, logger)
	api.Jobs, api.Secrets = jobs, box
	api.Runtime = httpapi.RuntimeProcess // said by GET /api/v1/server and the console's banner
	if jobs.runtime == runtimePodman {
		api.Runtime = httpapi.RuntimeContainer
	}
	// The web console is an API client in process; the secret key also
	// signs its CSRF tokens (domain-separated), so replicas agree.
	con, err := console.New(api, key, logger)
	if err != nil {
		return err
	}
	con.Runtime, api.Console = api.Runtime, con
	// SQL jobs run in package sqlrunner.
	sqlRun := sqlrunner.New(db, box, logger)
	api.SQL = sqlRun
	// The scheduling loop and the SQL runner write as one: on one replica
	// at a time, the holder of the "scheduler" lease, fenced by it. They
	// stop (cancelling running queries) before the database closes.
	leadCtx, leadStop := context.WithCancel(ctx)
	leadDone := make(chan struct{})
	go func() {
		defer close(leadDone)
		leader.Run(leadCtx, leader.Config{Store: db, Name: "scheduler", Logger: logger.With("service", "leader")}, func(lctx context.Context) {
			jobs.loop.Start(lctx)
			sqlRun.Run(lctx) // until the lead ends
			jobs.loop.Stop()
		})
	}()
	defer func() { leadStop(); <-leadDone }()
	pipes, err := startPipelines(ctx, db, pods, jobs, sqlRun, logger)
	if err != nil {
		return err
	}
	defer pipes.Stop()
	api.Pipelines = pipes
	// A node's job ending moves its run on at once, not at the next tick.
	wakePipes := pipes.Wake
	jobs.jobsChanged.Store(&wakePipes)
	alerts, err := startNotify(ctx, db, box, api.Registry(), cfg.notify, logger)
	if err != nil {
		return err
	}
	defer alerts.Stop()
	stopDSW, err := startDSWOrigin(api, key, cfg.dsw, cfg.addr, logger)
	if err != nil {
		return err
	}
	defer stopDSW()
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	logger.Info("atrium listening", "addr", "http://"+ln.Addr().String(), "webConsole", "http://"+ln.Addr().String()+"/")

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// openStore opens PostgreSQL when databaseURL says so, else SQLite in dataDir.
func openStore(ctx context.Context, dataDir, databaseURL string, opts ...sqlstore.Option) (*sqlstore.DB, error) {
	if databaseURL == "" {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("--data-dir: %w", err)
		}
		databaseURL = filepath.Join(dataDir, "atrium.db")
	} else if !strings.HasPrefix(databaseURL, "postgres://") && !strings.HasPrefix(databaseURL, "postgresql://") && !strings.HasPrefix(databaseURL, "sqlite:") {
		return nil, fmt.Errorf("--database-url: must start with postgres://, postgresql:// or sqlite:")
	}
	db, err := sqlstore.Open(ctx, databaseURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return db, nil
}

// bootstrap creates the first user, admin (ResourceAdmin), with an API token
// in <dataDir>/admin.token, when the database has no user yet. The token file
// is written before the user is committed, so a crash in between leaves no
// admin without a token; if another replica bootstrapped first, the file is
// removed again.
func bootstrap(ctx context.Context, db atrium.Store, dataDir string, logger *slog.Logger) error {
	_, n, err := db.FindUsers(ctx, atrium.UserFilter{Limit: 1})
	if err != nil || n > 0 {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	path := filepath.Join(dataDir, "admin.token")
	plain := secret.NewToken()
	if err := writeFileAtomic(path, []byte(plain+"\n"), 0o600); err != nil {
		return fmt.Errorf("write admin token: %w", err)
	}
	u := &atrium.User{Name: "admin", DisplayName: "Administrator", PlatformRoles: []string{atrium.RoleResourceAdmin}}
	tok := &atrium.Token{Name: "bootstrap", Hash: secret.HashToken(plain)}
	created, err := db.BootstrapAdmin(ctx, u, tok)
	if err != nil || !created {
		_ = os.Remove(path)
		return err
	}
	logger.Info("created user admin (ResourceAdmin); its API token is in the file", "tokenFile", path,
		"webConsole", "sign in after giving admin a password: atrium login --token-file "+path+" && atrium user update admin --password")
	return nil
}

// writeFileAtomic writes data to path through a synced temporary file and a
// rename, so readers see the old file or the whole new one.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
