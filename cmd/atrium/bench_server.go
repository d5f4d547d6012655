package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"atrium"
	"atrium/httpapi"
	"atrium/secret"
)

// benchServer is an `atrium serve` run inside this process for the API
// benchmarks, on a temporary data directory (and the given database), with
// a ResourceAdmin client.
type benchServer struct {
	URL     string
	Token   string
	Client  *httpapi.Client
	dataDir string
	cancel  context.CancelFunc
	done    chan error
}

// startBenchServer starts the server with extra serve flags (such as
// --local-capacity or --database-url), waits until /readyz answers and
// creates a user with a token for the benchmark; clients sizes the
// connection pool.
func startBenchServer(ctx context.Context, databaseURL string, clients int, extra ...string) (*benchServer, error) {
	dir, err := os.MkdirTemp("", "atrium-bench-")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	// No DSW origin: benchmarks open no notebook, and parallel runs would
	// share its port.
	args := append([]string{"--addr", addr, "--data-dir", dir, "--log-level", "error", "--dsw-addr", ""}, extra...)
	if databaseURL != "" {
		args = append(args, "--database-url", databaseURL)
	}
	sctx, cancel := context.WithCancel(ctx)
	s := &benchServer{URL: "http://" + addr, dataDir: dir, cancel: cancel, done: make(chan error, 1)}
	cmd := newServeCmd()
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	go func() { s.done <- cmd.ExecuteContext(sctx) }()

	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: clients + 4, MaxIdleConnsPerHost: clients + 4, IdleConnTimeout: time.Minute}}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-s.done:
			cancel()
			os.RemoveAll(dir)
			os.RemoveAll(dir + "-pods")
			return nil, fmt.Errorf("atrium serve: %w", err)
		default:
		}
		if resp, err := hc.Get(s.URL + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, errors.New("atrium serve did not become ready within 30 s")
		}
	}
	if s.Token, err = benchUser(ctx, dir, databaseURL); err != nil {
		s.Stop()
		return nil, err
	}
	s.Client = httpapi.NewClient(s.URL, s.Token)
	s.Client.HTTP = hc
	return s, nil
}

// benchUser creates a ResourceAdmin with a fresh token through the store,
// so a reused PostgreSQL database (where bootstrap wrote no admin.token)
// works as well as a new one.
func benchUser(ctx context.Context, dataDir, databaseURL string) (string, error) {
	db, err := openStore(ctx, dataDir, databaseURL)
	if err != nil {
		return "", err
	}
	defer db.Close()
	u := &atrium.User{Name: benchName(), DisplayName: "Bench", PlatformRoles: []string{atrium.RoleResourceAdmin}}
	if err := db.CreateUser(ctx, u); err != nil {
		return "", fmt.Errorf("create the bench user: %w", err)
	}
	plain := secret.NewToken()
	if err := db.CreateToken(ctx, &atrium.Token{UserID: u.ID, Name: "bench", Hash: secret.HashToken(plain)}); err != nil {
		return "", fmt.Errorf("create the bench token: %w", err)
	}
	return plain, nil
}

// workspace creates a workspace with a unique name for one run.
func (s *benchServer) workspace(ctx context.Context) (string, error) {
	ws, err := s.Client.CreateWorkspace(ctx, httpapi.CreateWorkspaceRequest{Name: benchName(), EnvTypes: []string{"prod"}})
	if err != nil {
		return "", fmt.Errorf("create the bench workspace: %w", err)
	}
	return ws.ID, nil
}

// benchName is a unique lower-case name for one run's user or workspace.
func benchName() string { return "bench_" + strconv.FormatUint(rand.Uint64()>>16, 36) }

// Stop shuts the server down and removes its data directory.
func (s *benchServer) Stop() {
	s.cancel()
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
	}
	os.RemoveAll(s.dataDir)
	os.RemoveAll(s.dataDir + "-pods") // the default --pod-dir
}
