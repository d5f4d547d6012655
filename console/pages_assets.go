package console

import (
	"net/http"

	"atrium"
	"atrium/httpapi"
)

// assetKinds are the asset lists of the menu: path segment → module (the
// permission codes' prefix) and title.
var assetKinds = map[string]struct{ module, noun, title string }{
	"datasets":     {"Dataset", "Dataset", "Datasets"},
	"models":       {"Model", "Model", "Models"},
	"images":       {"Image", "Image", "Images"},
	"code-sources": {"CodeSource", "CodeSource", "Code sources"},
	"algorithms":   {"Algorithm", "Algorithm", "Algorithms"},
}

type assetsData struct {
	Kind, Module, Noun string
	IDField            string // modelId, datasetId…
	Items              []httpapi.Object
	Filter             string
}

func (c *Console) assets(w http.ResponseWriter, r *http.Request, s *session) error {
	kind := r.PathValue("kind")
	k, ok := assetKinds[kind]
	if !ok {
		http.NotFound(w, r)
		return nil
	}
	v, err := c.wsView(r, s, k.title, kind)
	if err != nil {
		return err
	}
	d := &assetsData{Kind: kind, Module: k.module, Noun: k.noun, IDField: httpapi.AssetKind(kind).IDField(), Filter: r.URL.Query().Get("filter")}
	v.Data = d
	l, err := s.client.ListAssets(r.Context(), v.WS.ID, httpapi.AssetKind(kind),
		httpapi.ListAssetsOptions{Filter: d.Filter, PageOptions: httpapi.PageOptions{PageSize: 200}})
	if err != nil {
		if err := formError(w, v, err); err != nil {
			return err
		}
	} else {
		d.Items = l.Items
	}
	c.render(w, "assets", v)
	return nil
}

func (c *Console) publishAsset(w http.ResponseWriter, r *http.Request, s *session) error {
	ws, kind, id := r.PathValue("ws"), r.PathValue("kind"), r.PathValue("id")
	if _, ok := assetKinds[kind]; !ok {
		http.NotFound(w, r)
		return nil
	}
	if _, err := s.client.PublishAsset(r.Context(), ws, httpapi.AssetKind(kind), id); err != nil {
		return err
	}
	redirect(w, r, "/w/"+ws+"/assets/"+kind, id+" is now PUBLIC.")
	return nil
}

type modelData struct {
	Model    httpapi.Object
	Versions []httpapi.Object
	// Lineage of the selected version (?version=, default the latest).
	Selected string
	Lineage  *httpapi.LineageView
}

func (c *Console) model(w http.ResponseWriter, r *http.Request, s *session) error {
	v, err := c.wsView(r, s, "Model", "models")
	if err != nil {
		return err
	}
	ctx, id := r.Context(), r.PathValue("id")
	m, err := s.client.GetAsset(ctx, v.WS.ID, httpapi.KindModels, id)
	if err != nil {
		return err
	}
	vl, err := s.client.ListAssetVersions(ctx, v.WS.ID, httpapi.KindModels, id)
	if err != nil {
		return err
	}
	d := &modelData{Model: m, Versions: vl.Items, Selected: r.URL.Query().Get("version")}
	if d.Selected == "" && len(d.Versions) > 0 {
		d.Selected = d.Versions[len(d.Versions)-1].String("versionName")
	}
	if d.Selected != "" {
		if d.Lineage, err = s.client.ModelLineage(ctx, v.WS.ID, id, d.Selected); err != nil && !httpapi.IsProblem(err, atrium.ENOTFOUND) {
			return err
		}
	}
	v.Title = "Model " + m.String("name")
	v.Data = d
	c.render(w, "model", v)
	return nil
}

func (c *Console) approveModel(w http.ResponseWriter, r *http.Request, s *session) error {
	ws, id, version := r.PathValue("ws"), r.PathValue("id"), r.PathValue("version")
	status := r.PostFormValue("status")
	if _, err := s.client.SetModelVersionApproval(r.Context(), ws, id, version, status); err != nil {
		return err
	}
	redirect(w, r, "/w/"+ws+"/models/"+id+"?version="+version, "Version "+version+" "+status+".")
	return nil
}
