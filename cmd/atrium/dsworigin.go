package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"atrium"
	"atrium/console"
	"atrium/httpapi"
)

// dswConfig is where DSW instances are served: an origin apart from the
// console's, so an instance's pages never run where the console does.
type dswConfig struct {
	addr       string
	url        string
	sameOrigin bool
}

func addDSWFlags(f *pflag.FlagSet, c *dswConfig) {
	f.StringVar(&c.addr, "dsw-addr", envOr("ATRIUM_DSW_ADDR", "127.0.0.1:8081"),
		"listen address of the DSW origin, which serves notebook (DSW) instances apart from the console; empty serves none (env ATRIUM_DSW_ADDR)")
	f.StringVar(&c.url, "dsw-url", envOr("ATRIUM_DSW_URL", ""),
		"URL browsers reach the DSW origin at, when not http://<dsw-addr>: behind a proxy or on a host name of its own, e.g. https://dsw.example.net (env ATRIUM_DSW_URL)")
	f.BoolVar(&c.sameOrigin, "dsw-same-origin", envOr("ATRIUM_DSW_SAME_ORIGIN", "") == "true",
		"let instance pages keep the DSW origin, for notebooks whose pages call their own server; only with a --dsw-url host name whose cookies the console never sees (env ATRIUM_DSW_SAME_ORIGIN=true)")
}

// startDSWOrigin listens on cfg.addr and serves api's DSW origin there
// until stop. consoleAddr is the console's listen address, which the DSW
// origin must not share.
func startDSWOrigin(api *httpapi.Server, key []byte, cfg dswConfig, consoleAddr string, logger *slog.Logger) (stop func(), err error) {
	if cfg.addr == "" {
		logger.Warn("no DSW origin (--dsw-addr is empty): DSW instances run but cannot be opened")
		return func() {}, nil
	}
	public := strings.TrimRight(cfg.url, "/")
	if public == "http://"+consoleAddr || public == "https://"+consoleAddr {
		return nil, fmt.Errorf("--dsw-url: %s is the console's origin; DSW instances must be served apart from it", public)
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return nil, fmt.Errorf("--dsw-addr: %w (give another address, or --dsw-addr '' to serve no DSW instances)", err)
	}
	if public == "" {
		public = "http://" + ln.Addr().String()
	}
	o, err := httpapi.NewDSWOrigin(api, httpapi.DSWOriginConfig{URL: public, Key: key, SameOrigin: cfg.sameOrigin})
	if err != nil {
		ln.Close()
		flag := "--dsw-url"
		if e := atrium.AsError(err); e != nil && e.Field == "sameOrigin" {
			flag = "--dsw-same-origin"
		}
		return nil, fmt.Errorf("%s: %s", flag, atrium.ErrorMessage(err))
	}
	if con, ok := api.Console.(*console.Console); ok {
		con.DSWOrigin = o.URL() // its Open buttons send the browser there
	}
	srv := &http.Server{
		Handler:           o,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("DSW origin stopped", "err", err)
		}
	}()
	logger.Info("DSW origin listening", "addr", "http://"+ln.Addr().String(), "url", o.URL(), "sameOrigin", cfg.sameOrigin)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
