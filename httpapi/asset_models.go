package httpapi

// Model versions beyond the shared asset handlers: approval with its
// outbox event, and lineage (version → job →
// datasets, code source, image).

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"atrium"
	"atrium/authz"
)

// ApprovalRequest moves a model version out of Pending.
type ApprovalRequest struct {
	// ApprovalStatus: Approved or Rejected.
	ApprovalStatus string `json:"approvalStatus"`
}

// LineageView traces a model version to what produced it.
type LineageView struct {
	Version     ModelVersionView    `json:"version"`
	Job         *LineageJob         `json:"job,omitempty"`
	DataSources []LineageDataSource `json:"dataSources"`
	CodeSource  *LineageCodeSource  `json:"codeSource,omitempty"`
	Image       string              `json:"image,omitempty"`
}

// LineageJob is the job a model version came from.
type LineageJob struct {
	ID          string   `json:"id"`
	DisplayName string   `json:"displayName"`
	Status      string   `json:"status"`
	JobType     string   `json:"jobType"`
	Images      []string `json:"images"`
}

// LineageDataSource is a dataset version the job read.
type LineageDataSource struct {
	DatasetID   string `json:"datasetId,omitempty"`
	DatasetName string `json:"datasetName,omitempty"`
	Version     string `json:"version,omitempty"`
	URI         string `json:"uri,omitempty"`
	MountPath   string `json:"mountPath,omitempty"`
}

// LineageCodeSource is the code the job ran.
type LineageCodeSource struct {
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	Repo   string `json:"repo,omitempty"`
	Branch string `json:"branch,omitempty"`
	Commit string `json:"commit,omitempty"`
}

func modelRoutes(ws string) []*route {
	ver := ws + "/models/{modelId}/versions/{versionName}"
	return []*route{
		{method: "PUT", path: ver, code: "Model:ApproveModelVersion", status: http.StatusOK, self: true,
			summary: "Approve or reject a Pending model version (Admin, Operator; with requireSeparateApprover never its creator)",
			in:      ApprovalRequest{}, out: ModelVersionView{}, h: approveModelVersion},
		{method: "GET", path: ver + "/lineage", code: "Model:GetModel", status: http.StatusOK, self: true,
			summary: "Where a model version came from: its job, the job's dataset versions, code source and image",
			out:     LineageView{}, h: modelLineage},
	}
}

func authzWorkspace(c *call) authz.Resource {
	return authz.Resource{Kind: "workspace", WorkspaceID: c.ws.ID, ID: c.ws.ID}
}

const approvalRule = "approvalStatus moves Pending → Approved or Pending → Rejected only"

func approveModelVersion(c *call) (any, error) {
	var req ApprovalRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	a, v, err := c.versionOf(models, "Model:GetModel")
	if err != nil {
		return nil, err
	}
	cfg, err := c.s.Store.FindWorkspaceConfig(c.ctx(), c.ws.ID)
	if err != nil {
		return nil, err
	}
	if err := c.authorize("Model:ApproveModelVersion", authz.Resource{WorkspaceID: a.WorkspaceID, Kind: "model version",
		ID: a.ID + "/" + v.Name, OwnerID: v.Creator, Accessibility: a.Accessibility,
		RequireSeparateApprover: cfg.RequireSeparateApprover}); err != nil {
		return nil, err
	}
	switch req.ApprovalStatus {
	case atrium.ApprovalApproved, atrium.ApprovalRejected:
	case atrium.ApprovalPending:
		return nil, atrium.Errorf(atrium.ECONFLICT, "%s: version %s cannot go back to Pending", approvalRule, v.Name)
	case "":
		return nil, atrium.FieldErrorf("approvalStatus", "is required: Approved or Rejected")
	default:
		return nil, atrium.FieldErrorf("approvalStatus", "must be Approved or Rejected")
	}
	from := cmp.Or(v.ApprovalStatus, atrium.ApprovalPending)
	if from != atrium.ApprovalPending {
		return nil, atrium.Errorf(atrium.ECONFLICT, "%s: version %s is already %s", approvalRule, v.Name, from)
	}
	data, err := json.Marshal(map[string]string{"from": from, "to": req.ApprovalStatus, "actor": c.user.Name,
		"modelId": a.ID, "versionName": v.Name})
	if err != nil {
		return nil, err
	}
	ev := &atrium.Event{ID: atrium.NewID(atrium.PrefixEvent), Type: atrium.EventModelApprovalChanged,
		Source: fmt.Sprintf("/workspaces/%s/models/%s", a.WorkspaceID, a.ID), Subject: v.Name,
		Time: c.s.Now().UTC(), WorkspaceID: a.WorkspaceID, Data: data}
	v2, err := c.s.Store.UpdateAssetVersion(c.ctx(), a.ID, v.Name, atrium.AssetVersionUpdate{
		ApprovalStatus: &req.ApprovalStatus, ApprovedBy: &c.user.Name, FromApproval: &from, Event: ev})
	if atrium.ErrorCode(err) == atrium.ECONFLICT {
		return nil, atrium.Errorf(atrium.ECONFLICT, "%s: version %s was decided meanwhile", approvalRule, v.Name)
	} else if err != nil {
		return nil, err
	}
	return models.versionView(a, v2)
}

func modelLineage(c *call) (any, error) {
	a, v, err := c.versionOf(models, "Model:GetModel")
	if err != nil {
		return nil, err
	}
	vm, err := models.versionView(a, v)
	if err != nil {
		return nil, err
	}
	out := &LineageView{DataSources: []LineageDataSource{}}
	if b, err := json.Marshal(vm); err != nil {
		return nil, err
	} else if err := json.Unmarshal(b, &out.Version); err != nil {
		return nil, err
	}
	if v.SourceType != "Job" || v.SourceID == "" {
		return out, nil
	}
	j, err := c.s.Store.FindJobByID(c.ctx(), v.SourceID)
	if atrium.ErrorCode(err) == atrium.ENOTFOUND || (err == nil && j.WorkspaceID != c.ws.ID) {
		return out, nil // the job was deleted since
	} else if err != nil {
		return nil, err
	}
	lj := &LineageJob{ID: j.ID, DisplayName: j.DisplayName, Status: j.Status, JobType: j.JobType, Images: []string{}}
	for _, r := range j.Spec.JobSpecs {
		if r.Image != "" && !slices.Contains(lj.Images, r.Image) {
			lj.Images = append(lj.Images, r.Image)
		}
	}
	out.Job = lj
	if len(lj.Images) > 0 {
		out.Image = lj.Images[0]
	}
	for _, d := range j.Spec.DataSources {
		ld := LineageDataSource{DatasetID: d.DatasetID, Version: d.Version, URI: d.URI, MountPath: d.MountPath}
		if d.DatasetID != "" {
			if ds, err := c.s.Store.FindAssetByID(c.ctx(), d.DatasetID); err == nil && ds.WorkspaceID == c.ws.ID {
				ld.DatasetName = ds.Name
				name := cmp.Or(d.Version, ds.LatestVersion)
				if dv, err := c.s.Store.FindAssetVersion(c.ctx(), ds.ID, name); err == nil {
					ld.Version, ld.URI = dv.Name, dv.URI
				}
			}
		}
		out.DataSources = append(out.DataSources, ld)
	}
	if cs := j.Spec.CodeSource; cs != nil {
		lc := &LineageCodeSource{ID: cs.CodeSourceID, Branch: cs.Branch, Commit: cs.Commit}
		if src, err := c.s.Store.FindAssetByID(c.ctx(), cs.CodeSourceID); err == nil && src.WorkspaceID == c.ws.ID {
			var s CodeSourceSpec
			_ = json.Unmarshal(src.Spec, &s)
			lc.Name, lc.Repo = src.Name, s.Repo
			lc.Branch, lc.Commit = cmp.Or(lc.Branch, s.Branch), cmp.Or(lc.Commit, s.Commit)
		}
		out.CodeSource = lc
	}
	return out, nil
}
