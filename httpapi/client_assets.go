package httpapi

import (
	"context"
	"fmt"
	"net/url"
)

// --- AI assets: datasets, models, images, code sources, algorithms ---

// AssetKind names an asset kind by its path segment.
type AssetKind string

// The asset kinds.
const (
	KindDatasets    AssetKind = "datasets"
	KindModels      AssetKind = "models"
	KindImages      AssetKind = "images"
	KindCodeSources AssetKind = "code-sources"
	KindAlgorithms  AssetKind = "algorithms"
)

// IDField is the field that holds an asset's id in answers of this kind.
func (k AssetKind) IDField() string {
	switch k {
	case KindDatasets:
		return "datasetId"
	case KindModels:
		return "modelId"
	case KindImages:
		return "imageId"
	case KindCodeSources:
		return "codeSourceId"
	case KindAlgorithms:
		return "algorithmId"
	}
	return "id"
}

// Object is an asset or version as the API answers it: the common fields
// (name, owner, accessibility, labels…) and the kind's own.
type Object map[string]any

// String returns a field as text ("" when absent).
func (o Object) String(key string) string {
	switch v := o[key].(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		if v == float64(int64(v)) {
			return fmt.Sprint(int64(v))
		}
		return fmt.Sprint(v)
	default:
		return fmt.Sprint(v)
	}
}

// Labels returns the object's labels.
func (o Object) Labels() map[string]string {
	out := map[string]string{}
	if m, ok := o["labels"].(map[string]any); ok {
		for k, v := range m {
			out[k] = fmt.Sprint(v)
		}
	}
	return out
}

func assetPath(workspaceID string, kind AssetKind, id string) string {
	p := wsPath(workspaceID) + "/" + string(kind)
	if id != "" {
		p += "/" + pathEsc(id)
	}
	return p
}

// CreateAsset creates an asset of kind from body: name, description,
// accessibility, labels and the kind's fields (a code source's write-only
// accessToken too).
func (c *Client) CreateAsset(ctx context.Context, workspaceID string, kind AssetKind, body any) (Object, error) {
	var out Object
	return out, c.do(ctx, "POST", assetPath(workspaceID, kind, ""), nil, body, &out, nil)
}

// ListAssetsOptions filters, sorts and pages ListAssets.
type ListAssetsOptions struct {
	// Filter is an expression such as name LIKE "bert%" AND labels.team = "nlp".
	Filter string
	SortBy string // createdAt (default), updatedAt or name
	Order  string // asc or desc
	PageOptions
}

// ListAssets lists the assets of kind the caller may see.
func (c *Client) ListAssets(ctx context.Context, workspaceID string, kind AssetKind, opt ListAssetsOptions) (*List[Object], error) {
	q := url.Values{}
	for k, v := range map[string]string{"filter": opt.Filter, "sortBy": opt.SortBy, "order": opt.Order} {
		if v != "" {
			q.Set(k, v)
		}
	}
	opt.PageOptions.set(q)
	var out List[Object]
	return &out, c.do(ctx, "GET", assetPath(workspaceID, kind, ""), q, nil, &out, nil)
}

// GetAsset reads an asset.
func (c *Client) GetAsset(ctx context.Context, workspaceID string, kind AssetKind, id string) (Object, error) {
	var out Object
	return out, c.do(ctx, "GET", assetPath(workspaceID, kind, id), nil, nil, &out, nil)
}

// UpdateAsset changes an asset's name, description, labels or own fields
// (absent fields stay).
func (c *Client) UpdateAsset(ctx context.Context, workspaceID string, kind AssetKind, id string, body any) (Object, error) {
	var out Object
	return out, c.do(ctx, "PUT", assetPath(workspaceID, kind, id), nil, body, &out, nil)
}

// DeleteAsset deletes an asset and its versions.
func (c *Client) DeleteAsset(ctx context.Context, workspaceID string, kind AssetKind, id string) error {
	return c.do(ctx, "DELETE", assetPath(workspaceID, kind, id), nil, nil, nil, nil)
}

// PublishAsset makes an asset PUBLIC.
func (c *Client) PublishAsset(ctx context.Context, workspaceID string, kind AssetKind, id string) (Object, error) {
	var out Object
	return out, c.do(ctx, "POST", assetPath(workspaceID, kind, id)+"/publish", nil, nil, &out, nil)
}

// ChangeAssetOwner gives an asset to another member (Admin).
func (c *Client) ChangeAssetOwner(ctx context.Context, workspaceID string, kind AssetKind, id string, req ChangeOwnerRequest) (Object, error) {
	var out Object
	return out, c.do(ctx, "PUT", assetPath(workspaceID, kind, id)+"/owner", nil, req, &out, nil)
}

// AddAssetLabels merges labels into an asset's.
func (c *Client) AddAssetLabels(ctx context.Context, workspaceID string, kind AssetKind, id string, labels map[string]string) (Object, error) {
	var out Object
	return out, c.do(ctx, "POST", assetPath(workspaceID, kind, id)+"/labels", nil, LabelsRequest{Labels: labels}, &out, nil)
}

// RemoveAssetLabel removes one label of an asset.
func (c *Client) RemoveAssetLabel(ctx context.Context, workspaceID string, kind AssetKind, id, key string) (Object, error) {
	var out Object
	return out, c.do(ctx, "DELETE", assetPath(workspaceID, kind, id)+"/labels/"+pathEsc(key), nil, nil, &out, nil)
}

// CreateAssetVersion creates a version of a dataset, model or algorithm.
func (c *Client) CreateAssetVersion(ctx context.Context, workspaceID string, kind AssetKind, id string, body any) (Object, error) {
	var out Object
	return out, c.do(ctx, "POST", assetPath(workspaceID, kind, id)+"/versions", nil, body, &out, nil)
}

// ListAssetVersions lists an asset's versions, newest first.
func (c *Client) ListAssetVersions(ctx context.Context, workspaceID string, kind AssetKind, id string) (*List[Object], error) {
	var out List[Object]
	return &out, c.do(ctx, "GET", assetPath(workspaceID, kind, id)+"/versions", nil, nil, &out, nil)
}

// GetAssetVersion reads a version.
func (c *Client) GetAssetVersion(ctx context.Context, workspaceID string, kind AssetKind, id, version string) (Object, error) {
	var out Object
	return out, c.do(ctx, "GET", assetPath(workspaceID, kind, id)+"/versions/"+pathEsc(version), nil, nil, &out, nil)
}

// DeleteAssetVersion deletes a version.
func (c *Client) DeleteAssetVersion(ctx context.Context, workspaceID string, kind AssetKind, id, version string) error {
	return c.do(ctx, "DELETE", assetPath(workspaceID, kind, id)+"/versions/"+pathEsc(version), nil, nil, nil, nil)
}

// SetModelVersionApproval approves or rejects a Pending model version
// (status Approved or Rejected).
func (c *Client) SetModelVersionApproval(ctx context.Context, workspaceID, modelID, version, status string) (Object, error) {
	var out Object
	return out, c.do(ctx, "PUT", assetPath(workspaceID, KindModels, modelID)+"/versions/"+pathEsc(version), nil,
		ApprovalRequest{ApprovalStatus: status}, &out, nil)
}

// ModelLineage traces a model version to its job, datasets, code source and image.
func (c *Client) ModelLineage(ctx context.Context, workspaceID, modelID, version string) (*LineageView, error) {
	var out LineageView
	return &out, c.do(ctx, "GET", assetPath(workspaceID, KindModels, modelID)+"/versions/"+pathEsc(version)+"/lineage", nil, nil, &out, nil)
}
