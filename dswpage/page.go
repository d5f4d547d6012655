// Package dswpage is the built-in page a DSW instance without a command
// serves (the hidden subcommand 'atrium dsw-page'): the instance id, a
// summary of its environment and a live clock on $ATRIUM_DSW_PORT, plus
// /healthz. It shows that the instance runs and that its proxy works.
package dswpage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"
)

// Handler serves the page for the given environment (KEY=VALUE lines, as
// os.Environ).
func Handler(environ []string) http.Handler {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "ok", "instanceId": env["ATRIUM_JOB_ID"]})
	})
	mux.HandleFunc("GET /time", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, time.Now().UTC().Format(time.RFC3339))
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = page.Execute(w, view{ID: env["ATRIUM_JOB_ID"], Workspace: env["ATRIUM_WORKSPACE_ID"], Env: summary(env),
			Now: time.Now().UTC().Format(time.RFC3339)})
	})
	return mux
}

type view struct {
	ID, Workspace, Now string
	Env                [][2]string
}

// summary lists the Atrium and GPU variables and the names (not values) of
// the others, which may hold secrets.
func summary(env map[string]string) [][2]string {
	var out [][2]string
	for k, v := range env {
		switch {
		case strings.HasPrefix(k, "ATRIUM_") && k != "ATRIUM_LOCAL_SUPERVISOR", k == "PORT", k == "CUDA_VISIBLE_DEVICES",
			k == "RANK", k == "WORLD_SIZE", k == "HOSTNAME":
			out = append(out, [2]string{k, v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// The clock is plain script polling nothing: it counts from the server's
// time at render, so the page works through any proxy.
var page = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>DSW {{.ID}}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:48rem}td{padding:.1rem .8rem .1rem 0;font-family:monospace}</style>
</head><body>
<h1>DSW instance {{.ID}}</h1>
<p>This is Atrium's built-in page: the instance was created without a command. Give it a
<code>command</code> that listens on <code>$ATRIUM_DSW_PORT</code> (Jupyter, TensorBoard…) to serve your own.</p>
<p>Workspace <code>{{.Workspace}}</code> · server time <span id="clock" data-start="{{.Now}}">{{.Now}}</span></p>
<h2>Environment</h2>
<table>{{range .Env}}<tr><td>{{index . 0}}</td><td>{{index . 1}}</td></tr>{{end}}</table>
<script>
(function(){var el=document.getElementById("clock"),t0=Date.parse(el.dataset.start),c0=Date.now();
setInterval(function(){el.textContent=new Date(t0+Date.now()-c0).toISOString().replace(/\.\d+Z$/,"Z")},1000)})();
</script>
</body></html>
`))

// Serve listens on 127.0.0.1:$ATRIUM_DSW_PORT (all interfaces when
// ATRIUM_DSW_LISTEN_ALL is set, for remote backends) until ctx ends.
func Serve(ctx context.Context) error {
	port := os.Getenv("ATRIUM_DSW_PORT")
	if port == "" {
		return errors.New("dsw-page: ATRIUM_DSW_PORT is not set (this command runs inside a DSW instance)")
	}
	host := "127.0.0.1"
	if os.Getenv("ATRIUM_DSW_LISTEN_ALL") != "" {
		host = ""
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return fmt.Errorf("dsw-page: %w", err)
	}
	srv := &http.Server{Handler: Handler(os.Environ()), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	fmt.Printf("dsw-page: serving instance %s on %s\n", os.Getenv("ATRIUM_JOB_ID"), l.Addr())
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
