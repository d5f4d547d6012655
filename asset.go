package atrium

import (
	"context"
	"encoding/json"
	"time"
)

// Asset kinds and their id prefixes.
const (
	AssetDataset    = "dataset"
	AssetModel      = "model"
	AssetImage      = "image"
	AssetCodeSource = "codeSource"
	AssetAlgorithm  = "algorithm"
	// AssetConnection is a warehouse connection of SQL jobs (conn-…): its
	// Spec holds the PostgreSQL URL without password, its Secret the sealed
	// password (aad = the connection id).
	AssetConnection = "connection"
)

// AssetPrefix is the id prefix of each asset kind.
var AssetPrefix = map[string]string{
	AssetDataset: "d-", AssetModel: "model-", AssetImage: "image-", AssetCodeSource: "code-", AssetAlgorithm: "algo-",
	AssetConnection: "conn-",
}

// Asset is any of the workspace's AI assets. The fields every kind shares
// are columns; what a kind adds (a dataset's dataType and uri, a code
// source's repo…) travels in Spec as JSON, which the API layer reads into
// the kind's own struct. Secret holds a write-only secret encrypted at rest
// (a code source's access token); it never leaves the store in a response.
type Asset struct {
	ID            string            `json:"id"`
	WorkspaceID   string            `json:"workspaceId"`
	Kind          string            `json:"kind"`
	Name          string            `json:"name"`
	Description   string            `json:"description"`
	Owner         string            `json:"owner"` // user id
	OwnerName     string            `json:"ownerName"`
	Accessibility string            `json:"accessibility"`
	Labels        map[string]string `json:"labels"`
	Spec          json.RawMessage   `json:"spec"`
	Secret        []byte            `json:"-"`
	// LatestVersion names the newest version ("" when it has none).
	LatestVersion string    `json:"latestVersion,omitempty"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
	Version       int64     `json:"-"` // optimistic concurrency, as for jobs
}

// AssetVersion is a version of a dataset (v1, v2…), a model
// (MAJOR.MINOR.PATCH[_suffix]) or an algorithm. Its uri is immutable; the
// kind's own fields travel in Spec.
type AssetVersion struct {
	AssetID     string            `json:"assetId"`
	WorkspaceID string            `json:"workspaceId"`
	Kind        string            `json:"kind"`
	Name        string            `json:"versionName"`
	Seq         int               `json:"-"` // creation order
	Description string            `json:"description"`
	URI         string            `json:"uri,omitempty"`
	Creator     string            `json:"creator"`
	CreatorName string            `json:"creatorName"`
	Labels      map[string]string `json:"labels"`
	Spec        json.RawMessage   `json:"spec"`
	// ApprovalStatus is Pending, Approved or Rejected for model versions.
	ApprovalStatus string     `json:"approvalStatus,omitempty"`
	ApprovedBy     string     `json:"approvedBy,omitempty"`
	ApprovedAt     *time.Time `json:"approvedAt,omitempty"`
	// SourceType (Job, PipelineRun, Custom) and SourceID trace where the
	// version came from (lineage).
	SourceType string    `json:"sourceType,omitempty"`
	SourceID   string    `json:"sourceId,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// Model version approval statuses.
const (
	ApprovalPending  = "Pending"
	ApprovalApproved = "Approved"
	ApprovalRejected = "Rejected"
)

// AssetFilter selects assets of one kind in one workspace.
type AssetFilter struct {
	WorkspaceID string
	Kind        string
	// VisibleTo limits to the user's own assets and PUBLIC ones; "-" to
	// PUBLIC only; "" means no limit (Admin).
	VisibleTo string
	// Filter is an expression of the filter language (package filter) over
	// the kind's fields and labels.<key>; the store compiles it to bound
	// SQL for its engine. A bad one is EINVALID naming "filter" and the
	// position.
	Filter string
	SortBy string // name, createdAt (default) or updatedAt
	Desc   bool
	Offset int
	Limit  int
}

// AssetUpdate changes an asset; nil means unchanged.
type AssetUpdate struct {
	Name          *string
	Description   *string
	Accessibility *string
	Owner         *string // with OwnerName
	OwnerName     *string
	Labels        *map[string]string
	Spec          *json.RawMessage
	Secret        *[]byte
}

// AssetVersionUpdate changes a version; the uri never changes. An approval
// change carries its outbox event, written in the same transaction.
type AssetVersionUpdate struct {
	Description    *string
	Labels         *map[string]string
	Spec           *json.RawMessage
	ApprovalStatus *string
	ApprovedBy     *string
	// FromApproval, when set, makes the update apply only while the
	// version's approval status is still this (ECONFLICT otherwise), so two
	// approvers cannot both move it out of Pending.
	FromApproval *string
	Event        *Event
}

// AssetService keeps assets and their versions.
type AssetService interface {
	// CreateAsset inserts a (ID from AssetPrefix when empty); ECONFLICT if
	// the workspace already has an asset of that kind and name.
	CreateAsset(ctx context.Context, a *Asset) error
	// FindAssetByID returns ENOTFOUND if absent.
	FindAssetByID(ctx context.Context, id string) (*Asset, error)
	// FindAssets returns a page and the total.
	FindAssets(ctx context.Context, f AssetFilter) ([]*Asset, int, error)
	// UpdateAsset applies upd; ENOTFOUND if absent.
	UpdateAsset(ctx context.Context, id string, upd AssetUpdate) (*Asset, error)
	// DeleteAsset removes the asset and its versions.
	DeleteAsset(ctx context.Context, id string) error

	// CreateAssetVersion inserts v and sets the asset's LatestVersion;
	// ECONFLICT if the name is taken.
	CreateAssetVersion(ctx context.Context, v *AssetVersion) error
	// FindAssetVersion returns ENOTFOUND if absent.
	FindAssetVersion(ctx context.Context, assetID, name string) (*AssetVersion, error)
	// FindAssetVersions lists an asset's versions, newest first.
	FindAssetVersions(ctx context.Context, assetID string) ([]*AssetVersion, error)
	// UpdateAssetVersion applies upd (and writes upd.Event); ENOTFOUND if absent.
	UpdateAssetVersion(ctx context.Context, assetID, name string, upd AssetVersionUpdate) (*AssetVersion, error)
	// DeleteAssetVersion removes a version.
	DeleteAssetVersion(ctx context.Context, assetID, name string) error
}
