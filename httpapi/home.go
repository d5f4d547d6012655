package httpapi

import (
	"net/http"
)

// homePage is what a browser opening the server's address sees until the
// web console (issue 7) replaces it: where the API, its document and the
// health endpoints are, and how to start with the CLI.
const homePage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Atrium</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;color:#1b1f24}
code{background:#f1f3f5;padding:.1rem .3rem;border-radius:4px}a{color:#0b57d0}</style></head>
<body><h1>Atrium is running</h1>
<p>This server runs without its web console. Everything the console shows is
available through the REST API and the <code>atrium</code> command line.</p>
<ul>
<li><a href="/api/v1/openapi.json">/api/v1/openapi.json</a> — the API, every operation with its permission code</li>
<li><a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a>, <a href="/metrics">/metrics</a></li>
</ul>
<p>Start with <code>atrium login --server URL --token-file atrium-data/admin.token</code>,
then <code>atrium workspace create …</code> and <code>atrium job submit -f job.yaml</code>.</p>
</body></html>
`

// home serves homePage at exactly "/" (the route pattern is "GET /{$}").
func home(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_, _ = w.Write([]byte(homePage))
}
