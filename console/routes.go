package console

import (
	"io/fs"
	"net/http"
)

// routes is the console's whole surface. Every page goes through page(),
// which signs the browser in and checks CSRF on writes; what a page may do
// is decided by the API it calls.
func (c *Console) routes() {
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServer(http.FS(static)))
	c.mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	}))
	c.mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/static/favicon.svg", http.StatusMovedPermanently)
	})
	c.mux.HandleFunc("GET /login", c.loginPage)
	c.mux.HandleFunc("POST /login", c.login)
	c.mux.HandleFunc("POST /logout", c.page(c.logout))
	c.mux.HandleFunc("GET /{$}", c.page(c.home))
	c.mux.HandleFunc("GET /switch", c.page(c.switchWorkspace))
	c.mux.HandleFunc("GET /workspaces", c.page(c.workspaces))
	c.mux.HandleFunc("POST /workspaces", c.page(c.createWorkspace))
	c.mux.HandleFunc("GET /quotas", c.page(c.quotas))

	ws := "/w/{ws}"
	c.mux.HandleFunc("GET "+ws, c.page(c.overview))
	c.mux.HandleFunc("GET "+ws+"/members", c.page(c.members))
	c.mux.HandleFunc("POST "+ws+"/members", c.page(c.addMember))
	c.mux.HandleFunc("POST "+ws+"/members/{member}/roles", c.page(c.changeRole))
	c.mux.HandleFunc("POST "+ws+"/members/{member}/delete", c.page(c.removeMember))

	c.mux.HandleFunc("GET "+ws+"/jobs", c.page(c.jobs))
	c.mux.HandleFunc("GET "+ws+"/jobs/new", c.page(c.newJob))
	c.mux.HandleFunc("POST "+ws+"/jobs/new", c.page(c.submitJob))
	c.mux.HandleFunc("GET "+ws+"/jobs/{job}", c.page(c.job))
	c.mux.HandleFunc("POST "+ws+"/jobs/{job}/stop", c.page(c.stopJob))
	c.mux.HandleFunc("GET "+ws+"/jobs/{job}/logs", c.page(c.jobLogs))
	c.mux.HandleFunc("GET "+ws+"/dsw", c.page(c.dsw))
	c.mux.HandleFunc("POST "+ws+"/dsw/{job}/{action}", c.page(c.dswAction))

	c.mux.HandleFunc("GET "+ws+"/pipelines", c.page(c.pipelines))
	c.mux.HandleFunc("GET "+ws+"/runs/{run}", c.page(c.pipelineRun))
	c.mux.HandleFunc("POST "+ws+"/runs/{run}/{action}", c.page(c.runAction))

	c.mux.HandleFunc("GET "+ws+"/assets/{kind}", c.page(c.assets))
	c.mux.HandleFunc("POST "+ws+"/assets/{kind}/{id}/publish", c.page(c.publishAsset))
	c.mux.HandleFunc("GET "+ws+"/models/{id}", c.page(c.model))
	c.mux.HandleFunc("POST "+ws+"/models/{id}/versions/{version}/approval", c.page(c.approveModel))

	c.mux.HandleFunc("GET "+ws+"/alerts", c.page(c.alerts))
	c.mux.HandleFunc("POST "+ws+"/alerts", c.page(c.createAlert))
	c.mux.HandleFunc("GET "+ws+"/alerts/{rule}", c.page(c.alert))
	c.mux.HandleFunc("POST "+ws+"/alerts/{rule}/test", c.page(c.testAlert))
	c.mux.HandleFunc("GET "+ws+"/oplog", c.page(c.oplog))
}
