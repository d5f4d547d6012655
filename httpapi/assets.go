package httpapi

// AI assets: datasets, models, images, code sources and
// algorithms. One set of handlers serves every kind; an assetKind says
// what differs — the path segment and id parameter, the permission codes,
// and the kind's own fields (a typed spec struct with its validation),
// stored in atrium.Asset.Spec. Datasets, models and algorithms have
// versions (versionKind); model versions add approval and lineage
// (asset_models.go).

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"time"

	"atrium"
	"atrium/authz"
)

// assetSpec is a kind's own fields. check validates them (filling
// defaults); a and old are the stored asset and spec when updating, nil
// when creating.
type assetSpec interface {
	check(c *call, a *atrium.Asset, old assetSpec) error
}

// assetKind describes one kind of asset to the shared handlers.
type assetKind struct {
	kind    string // atrium.AssetDataset…
	segment string // path segment: datasets
	param   string // id path parameter, also the id field of answers: datasetId
	noun    string // in messages: dataset
	module  string // permission module and noun: Dataset → Dataset:CreateDataset
	spec    func() assetSpec
	// secret: the kind takes a write-only accessToken (code sources).
	secret bool
	// Documentation types (OpenAPI): the answer and the create body.
	view, listView, create any
	versions               *versionKind
}

func (k *assetKind) code(action string) string {
	switch action {
	case "List":
		return k.module + ":List" + k.module + "s"
	case "ChangeOwner":
		return k.module + ":ChangeOwner"
	}
	return k.module + ":" + action + k.module
}

// AssetView is what every asset answer holds, next to the kind's id field
// and its own fields.
type AssetView struct {
	WorkspaceID   string            `json:"workspaceId"`
	Name          string            `json:"name"`
	Description   string            `json:"description"`
	Owner         string            `json:"owner"`
	OwnerName     string            `json:"ownerName"`
	Accessibility string            `json:"accessibility"`
	Labels        map[string]string `json:"labels"`
	LatestVersion string            `json:"latestVersion,omitempty"`
	CreatedAt     time.Time         `json:"createdAt"`
	UpdatedAt     time.Time         `json:"updatedAt"`
}

// AssetRequest is what every create body may hold besides the kind's fields.
type AssetRequest struct {
	Name          string            `json:"name"`
	Description   string            `json:"description,omitempty"`
	Accessibility string            `json:"accessibility,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
}

// UpdateAssetRequest changes an asset: absent fields stay; the kind's own
// fields may be given too (a dataset's uri…), except the immutable ones.
type UpdateAssetRequest struct {
	Name        *string            `json:"name,omitempty"`
	Description *string            `json:"description,omitempty"`
	Labels      *map[string]string `json:"labels,omitempty"`
}

// LabelsRequest merges labels into an asset's.
type LabelsRequest struct {
	Labels map[string]string `json:"labels"`
}

// ChangeOwnerRequest gives an asset to another member, named by id or name.
type ChangeOwnerRequest struct {
	UserID   string `json:"userId,omitempty"`
	UserName string `json:"userName,omitempty"`
}

var assetKinds = []*assetKind{datasets, models, images, codeSources, algorithms}

// assetRoutes are the routes of every asset kind.
func assetRoutes(ws string) []*route {
	var out []*route
	for _, k := range assetKinds {
		base := ws + "/" + k.segment
		one := base + "/{" + k.param + "}"
		listQuery := params([]param{
			{"filter", `filter expression, e.g. name LIKE "bert%" AND labels.team = "nlp" (=, !=, <, >, LIKE, IN, AND, OR, parentheses, labels.<key>)`},
			{"sortBy", "createdAt (default), updatedAt or name"}, {"order", "asc or desc (default: desc, asc for name)"}}, pageParams)
		listOut := k.listView
		out = append(out,
			&route{method: "POST", path: base, code: k.code("Create"), status: http.StatusCreated,
				summary: "Create a " + k.noun + " (PRIVATE unless accessibility says PUBLIC)", in: k.create, out: k.view, h: k.createOne},
			&route{method: "GET", path: base, code: k.code("List"), status: http.StatusOK,
				summary: "List the " + k.noun + "s you may see (your own and PUBLIC ones; Admins all), filtered and sorted",
				query:   listQuery, out: listOut, h: k.list},
			&route{method: "GET", path: one, code: k.code("Get"), status: http.StatusOK, self: true,
				summary: "Read a " + k.noun, out: k.view, h: k.getOne},
			&route{method: "PUT", path: one, code: k.code("Update"), status: http.StatusOK, self: true,
				summary: "Change a " + k.noun + "'s name, description, labels or own fields (absent fields stay)", in: k.create, out: k.view, h: k.updateOne},
			&route{method: "DELETE", path: one, code: k.code("Delete"), status: http.StatusNoContent, self: true,
				summary: "Delete a " + k.noun + " and its versions", h: k.deleteOne},
			&route{method: "POST", path: one + "/publish", code: k.code("Publish"), status: http.StatusOK, self: true,
				summary: "Make a " + k.noun + " PUBLIC (never back; 409 when it already is)", out: k.view, h: k.publish},
			&route{method: "PUT", path: one + "/owner", code: k.code("ChangeOwner"), status: http.StatusOK, self: true,
				summary: "Give a " + k.noun + " to another member (Admin)", in: ChangeOwnerRequest{}, out: k.view, h: k.changeOwner},
			&route{method: "POST", path: one + "/labels", code: k.code("Update"), status: http.StatusOK, self: true,
				summary: "Add or change labels of a " + k.noun + " (merged into its labels)", in: LabelsRequest{}, out: k.view, h: k.addLabels},
			&route{method: "DELETE", path: one + "/labels/{key}", code: k.code("Update"), status: http.StatusOK, self: true,
				summary: "Remove a label of a " + k.noun, out: k.view, h: k.removeLabel},
		)
		if v := k.versions; v != nil {
			ver := one + "/versions"
			out = append(out,
				&route{method: "POST", path: ver, code: k.code("Update"), status: http.StatusCreated, self: true,
					summary: "Create a version of a " + k.noun + " (" + v.naming + ")", in: v.create, out: v.view, h: k.createVersion},
				&route{method: "GET", path: ver, code: k.code("Get"), status: http.StatusOK, self: true,
					summary: "List a " + k.noun + "'s versions, newest first", out: v.listView, h: k.listVersions},
				&route{method: "GET", path: ver + "/{versionName}", code: k.code("Get"), status: http.StatusOK, self: true,
					summary: "Read a version of a " + k.noun, out: v.view, h: k.getVersion},
				&route{method: "DELETE", path: ver + "/{versionName}", code: k.code("Delete"), status: http.StatusNoContent, self: true,
					summary: "Delete a version of a " + k.noun, h: k.deleteVersion},
			)
		}
	}
	return append(out, modelRoutes(ws)...)
}

// --- Views ---

// view is the answer for a: the common fields, the kind's id and fields.
func (k *assetKind) viewOf(a *atrium.Asset) (map[string]any, error) {
	s := k.spec()
	if len(a.Spec) > 0 {
		if err := json.Unmarshal(a.Spec, s); err != nil {
			return nil, fmt.Errorf("%s %s: stored spec: %w", k.noun, a.ID, err)
		}
	}
	m := map[string]any{}
	if err := mergeJSON(m, s); err != nil {
		return nil, err
	}
	labels := a.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	if err := mergeJSON(m, AssetView{WorkspaceID: a.WorkspaceID, Name: a.Name, Description: a.Description, Owner: a.Owner,
		OwnerName: a.OwnerName, Accessibility: a.Accessibility, Labels: labels, LatestVersion: a.LatestVersion,
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}); err != nil {
		return nil, err
	}
	m[k.param] = a.ID
	if k.secret {
		m["hasAccessToken"] = len(a.Secret) > 0
	}
	return m, nil
}

// mergeJSON adds v's JSON fields to m.
func mergeJSON(m map[string]any, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(&m)
}

// --- Request bodies ---

// splitBody reads a JSON object and splits it into the fields named in
// common (decoded strictly into c) and the rest (decoded strictly into
// spec, over base when updating).
func splitBody(r *http.Request, common []string, into any, spec any, base json.RawMessage) error {
	var all map[string]json.RawMessage
	if err := decodeJSON(r, &all); err != nil {
		return err
	}
	if all == nil {
		return atrium.FieldErrorf("body", "must be a JSON object")
	}
	cm, rest := map[string]json.RawMessage{}, map[string]json.RawMessage{}
	if len(base) > 0 {
		if err := json.Unmarshal(base, &rest); err != nil {
			return err
		}
	}
	for key, v := range all {
		if slices.Contains(common, key) {
			cm[key] = v
		} else {
			rest[key] = v
		}
	}
	if err := strictJSON(cm, into); err != nil {
		return err
	}
	if spec == nil {
		for key := range rest {
			return atrium.FieldErrorf(key, "is not a known field")
		}
		return nil
	}
	return strictJSON(rest, spec)
}

func strictJSON(m map[string]json.RawMessage, v any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	return nil
}

var (
	assetNameRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	assetLabelKeyRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._/-]{0,62}[A-Za-z0-9])?$`)
)

func checkAssetName(field, name string) error {
	if !assetNameRE.MatchString(name) {
		return atrium.FieldErrorf(field, "must be 1–128 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	return nil
}

func checkDescription(field string, d string) error {
	if len([]rune(d)) > 1024 {
		return atrium.FieldErrorf(field, "must be at most 1024 characters")
	}
	return nil
}

func checkLabels(field string, l map[string]string) error {
	if len(l) > 64 {
		return atrium.FieldErrorf(field, "may hold at most 64 labels")
	}
	for key, v := range l {
		if !assetLabelKeyRE.MatchString(key) {
			return atrium.FieldErrorf(field+"."+key, "is not a valid label key: 1–64 letters, digits, '.', '_', '/' or '-', starting and ending with a letter or digit")
		}
		if len([]rune(v)) > 256 {
			return atrium.FieldErrorf(field+"."+key, "must be at most 256 characters")
		}
	}
	return nil
}

// assetFields is the common part of a create body.
type assetFields struct {
	AssetRequest
	AccessToken *string `json:"accessToken,omitempty"`
}

var assetCommon = []string{"name", "description", "accessibility", "labels"}

func (k *assetKind) commonFields() []string {
	if k.secret {
		return append(slices.Clone(assetCommon), "accessToken")
	}
	return assetCommon
}

// seal encrypts a write-only secret with the asset id as associated data.
func (c *call) seal(field, plain, assetID string) ([]byte, error) {
	if c.s.Secrets == nil {
		return nil, atrium.Errorf(atrium.EUNAVAILABLE, "this server has no secret key configured; %s cannot be stored", field)
	}
	if len(plain) > 4096 {
		return nil, atrium.FieldErrorf(field, "must be at most 4096 bytes")
	}
	return c.s.Secrets.Seal([]byte(plain), []byte(assetID)), nil
}

// --- Handlers ---

func (k *assetKind) createOne(c *call) (any, error) {
	var req assetFields
	spec := k.spec()
	if err := splitBody(c.r, k.commonFields(), &req, spec, nil); err != nil {
		return nil, err
	}
	if err := checkAssetName("name", req.Name); err != nil {
		return nil, err
	}
	if err := checkDescription("description", req.Description); err != nil {
		return nil, err
	}
	if err := checkAccessibility(&req.Accessibility); err != nil {
		return nil, err
	}
	if req.Labels == nil {
		req.Labels = map[string]string{}
	}
	if err := checkLabels("labels", req.Labels); err != nil {
		return nil, err
	}
	if err := spec.check(c, nil, nil); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	a := &atrium.Asset{ID: atrium.NewID(atrium.AssetPrefix[k.kind]), WorkspaceID: c.ws.ID, Kind: k.kind, Name: req.Name,
		Description: req.Description, Owner: c.user.ID, OwnerName: c.user.Name, Accessibility: req.Accessibility,
		Labels: req.Labels, Spec: raw}
	if req.AccessToken != nil && *req.AccessToken != "" {
		if a.Secret, err = c.seal("accessToken", *req.AccessToken, a.ID); err != nil {
			return nil, err
		}
	}
	if err := c.s.Store.CreateAsset(c.ctx(), a); err != nil {
		if atrium.ErrorCode(err) == atrium.ECONFLICT {
			return nil, &atrium.Error{Code: atrium.ECONFLICT, Field: "name", Message: fmt.Sprintf("the workspace already has a %s named %q", k.noun, a.Name)}
		}
		return nil, err
	}
	return k.viewOf(a)
}

func (k *assetKind) list(c *call) (any, error) {
	q := c.r.URL.Query()
	p, err := readPage(q)
	if err != nil {
		return nil, err
	}
	sortBy, err := oneOf(q, "sortBy", "createdAt", "updatedAt", "name")
	if err != nil {
		return nil, err
	}
	order, err := oneOf(q, "order", "asc", "desc")
	if err != nil {
		return nil, err
	}
	sortBy = cmp.Or(sortBy, "createdAt")
	desc := order == "desc" || (order == "" && sortBy != "name")
	f := atrium.AssetFilter{WorkspaceID: c.ws.ID, Kind: k.kind, Filter: q.Get("filter"), SortBy: sortBy, Desc: desc,
		Offset: p.offset, Limit: p.limit}
	switch sc := c.s.Authz.ScopeOf(c.sub, k.code("Get")); {
	case sc&authz.All != 0:
	case sc&authz.Own != 0:
		f.VisibleTo = c.user.ID
	default:
		f.VisibleTo = "-"
	}
	items, total, err := c.s.Store.FindAssets(c.ctx(), f)
	if err != nil {
		return nil, err
	}
	views := make([]map[string]any, 0, len(items))
	for _, a := range items {
		v, err := k.viewOf(a)
		if err != nil {
			return nil, err
		}
		views = append(views, v)
	}
	return newList(views, total, p), nil
}

// assetResource describes an asset to the authorizer.
func assetResource(k *assetKind, a *atrium.Asset) authz.Resource {
	return authz.Resource{WorkspaceID: a.WorkspaceID, Kind: k.noun, ID: a.ID, OwnerID: a.Owner, Accessibility: a.Accessibility}
}

// assetOf loads the asset of kind k named by the path and authorizes code
// on it; assets of other workspaces or kinds, and those the caller may not
// read, are 404.
func (c *call) assetOf(k *assetKind, code string) (*atrium.Asset, error) {
	id := c.r.PathValue(k.param)
	a, err := c.s.Store.FindAssetByID(c.ctx(), id)
	if atrium.ErrorCode(err) == atrium.ENOTFOUND || (err == nil && (a.WorkspaceID != c.ws.ID || a.Kind != k.kind)) {
		c.authorized = true
		return nil, atrium.Errorf(atrium.ENOTFOUND, "%s %q not found", k.noun, id)
	} else if err != nil {
		return nil, err
	}
	if err := c.authorize(code, assetResource(k, a)); err != nil {
		return nil, err
	}
	return a, nil
}

func (k *assetKind) getOne(c *call) (any, error) {
	a, err := c.assetOf(k, k.code("Get"))
	if err != nil {
		return nil, err
	}
	return k.viewOf(a)
}

func (k *assetKind) updateOne(c *call) (any, error) {
	a, err := c.assetOf(k, k.code("Update"))
	if err != nil {
		return nil, err
	}
	old := k.spec()
	if len(a.Spec) > 0 {
		if err := json.Unmarshal(a.Spec, old); err != nil {
			return nil, err
		}
	}
	var req struct {
		UpdateAssetRequest
		Accessibility *string `json:"accessibility,omitempty"`
		AccessToken   *string `json:"accessToken,omitempty"`
	}
	spec := k.spec()
	if err := splitBody(c.r, k.commonFields(), &req, spec, a.Spec); err != nil {
		return nil, err
	}
	upd := atrium.AssetUpdate{Name: req.Name, Description: req.Description, Labels: req.Labels}
	if req.Name != nil {
		if err := checkAssetName("name", *req.Name); err != nil {
			return nil, err
		}
	}
	if req.Description != nil {
		if err := checkDescription("description", *req.Description); err != nil {
			return nil, err
		}
	}
	if req.Labels != nil {
		if err := checkLabels("labels", *req.Labels); err != nil {
			return nil, err
		}
	}
	if req.Accessibility != nil {
		switch {
		case *req.Accessibility == a.Accessibility:
		case *req.Accessibility == atrium.AccessPublic:
			return nil, atrium.FieldErrorf("accessibility", "use POST …/%s/%s/publish to make a %s PUBLIC", k.segment, a.ID, k.noun)
		case *req.Accessibility == atrium.AccessPrivate:
			return nil, atrium.FieldErrorf("accessibility", "a PUBLIC %s cannot become PRIVATE again", k.noun)
		default:
			return nil, atrium.FieldErrorf("accessibility", "must be PRIVATE or PUBLIC")
		}
	}
	if err := spec.check(c, a, old); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(raw, a.Spec) {
		upd.Spec = (*json.RawMessage)(&raw)
	}
	if req.AccessToken != nil {
		var sealed []byte
		if *req.AccessToken != "" {
			if sealed, err = c.seal("accessToken", *req.AccessToken, a.ID); err != nil {
				return nil, err
			}
		}
		upd.Secret = &sealed
	}
	a2, err := c.s.Store.UpdateAsset(c.ctx(), a.ID, upd)
	if err != nil {
		if atrium.ErrorCode(err) == atrium.ECONFLICT && req.Name != nil {
			return nil, &atrium.Error{Code: atrium.ECONFLICT, Field: "name", Message: fmt.Sprintf("the workspace already has a %s named %q", k.noun, *req.Name)}
		}
		return nil, err
	}
	return k.viewOf(a2)
}

func (k *assetKind) deleteOne(c *call) (any, error) {
	a, err := c.assetOf(k, k.code("Delete"))
	if err != nil {
		return nil, err
	}
	return nil, c.s.Store.DeleteAsset(c.ctx(), a.ID)
}

func (k *assetKind) publish(c *call) (any, error) {
	a, err := c.assetOf(k, k.code("Publish"))
	if err != nil {
		return nil, err
	}
	if a.Accessibility == atrium.AccessPublic {
		return nil, atrium.Errorf(atrium.ECONFLICT, "%s %s is already PUBLIC", k.noun, a.ID)
	}
	a2, err := c.s.Store.UpdateAsset(c.ctx(), a.ID, atrium.AssetUpdate{Accessibility: ptr(atrium.AccessPublic)})
	if err != nil {
		return nil, err
	}
	return k.viewOf(a2)
}

func (k *assetKind) changeOwner(c *call) (any, error) {
	var req ChangeOwnerRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	a, err := c.assetOf(k, k.code("ChangeOwner"))
	if err != nil {
		return nil, err
	}
	var u *atrium.User
	switch {
	case req.UserID != "" && req.UserName != "":
		return nil, atrium.FieldErrorf("userId", "give userId or userName, not both")
	case req.UserID != "":
		u, err = c.s.Store.FindUserByID(c.ctx(), req.UserID)
	case req.UserName != "":
		u, err = c.s.Store.FindUserByName(c.ctx(), req.UserName)
	default:
		return nil, atrium.FieldErrorf("userId", "is required (or userName)")
	}
	field := "userId"
	if req.UserID == "" {
		field = "userName"
	}
	if atrium.ErrorCode(err) == atrium.ENOTFOUND {
		return nil, atrium.FieldErrorf(field, "no such user")
	} else if err != nil {
		return nil, err
	}
	if _, err := c.s.Store.FindMemberByUser(c.ctx(), c.ws.ID, u.ID); atrium.ErrorCode(err) == atrium.ENOTFOUND {
		return nil, atrium.FieldErrorf(field, "user %s is not a member of this workspace", u.Name)
	} else if err != nil {
		return nil, err
	}
	a2, err := c.s.Store.UpdateAsset(c.ctx(), a.ID, atrium.AssetUpdate{Owner: &u.ID, OwnerName: &u.Name})
	if err != nil {
		return nil, err
	}
	return k.viewOf(a2)
}

func (k *assetKind) addLabels(c *call) (any, error) {
	var req LabelsRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	a, err := c.assetOf(k, k.code("Update"))
	if err != nil {
		return nil, err
	}
	if len(req.Labels) == 0 {
		return nil, atrium.FieldErrorf("labels", "is required: an object of key: value")
	}
	labels := map[string]string{}
	for key, v := range a.Labels {
		labels[key] = v
	}
	for key, v := range req.Labels {
		labels[key] = v
	}
	if err := checkLabels("labels", labels); err != nil {
		return nil, err
	}
	a2, err := c.s.Store.UpdateAsset(c.ctx(), a.ID, atrium.AssetUpdate{Labels: &labels})
	if err != nil {
		return nil, err
	}
	return k.viewOf(a2)
}

func (k *assetKind) removeLabel(c *call) (any, error) {
	a, err := c.assetOf(k, k.code("Update"))
	if err != nil {
		return nil, err
	}
	key := c.r.PathValue("key")
	if _, ok := a.Labels[key]; !ok {
		return k.viewOf(a)
	}
	labels := map[string]string{}
	for k2, v := range a.Labels {
		if k2 != key {
			labels[k2] = v
		}
	}
	a2, err := c.s.Store.UpdateAsset(c.ctx(), a.ID, atrium.AssetUpdate{Labels: &labels})
	if err != nil {
		return nil, err
	}
	return k.viewOf(a2)
}

// --- Versions ---

// versionSpec is a version's kind-specific fields; check validates them
// against the asset and the version's common fields.
type versionSpec interface {
	check(c *call, a *atrium.Asset, v *atrium.AssetVersion) error
}

// versionKind describes the versions of an asset kind.
type versionKind struct {
	spec   func() versionSpec
	naming string // for the route summary
	// named: the body may name the version (MAJOR.MINOR.PATCH[_suffix]);
	// otherwise versions are numbered v1, v2…
	named bool
	// uri: versions have an immutable uri, required when uriRequired.
	uri bool
	// source: versions carry lineage (sourceType, sourceId).
	source bool
	// Documentation types: the answer, the list and the create body.
	view, listView, create any
}

// VersionView is what every version answer holds besides the kind's fields.
type VersionView struct {
	VersionName string            `json:"versionName"`
	Description string            `json:"description"`
	URI         string            `json:"uri,omitempty"`
	Creator     string            `json:"creator"`
	CreatorName string            `json:"creatorName"`
	Labels      map[string]string `json:"labels"`
	CreatedAt   time.Time         `json:"createdAt"`
	UpdatedAt   time.Time         `json:"updatedAt"`
}

// versionFields is the common part of a version create body.
type versionFields struct {
	VersionName string            `json:"versionName,omitempty"`
	Description string            `json:"description,omitempty"`
	URI         string            `json:"uri,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	SourceType  string            `json:"sourceType,omitempty"`
	SourceID    string            `json:"sourceId,omitempty"`
}

func (vk *versionKind) commonFields() []string {
	f := []string{"description", "labels"}
	if vk.named {
		f = append(f, "versionName")
	}
	if vk.uri {
		f = append(f, "uri")
	}
	if vk.source {
		f = append(f, "sourceType", "sourceId")
	}
	return f
}

func (k *assetKind) versionView(a *atrium.Asset, v *atrium.AssetVersion) (map[string]any, error) {
	s := k.versions.spec()
	if len(v.Spec) > 0 {
		if err := json.Unmarshal(v.Spec, s); err != nil {
			return nil, fmt.Errorf("%s %s version %s: stored spec: %w", k.noun, a.ID, v.Name, err)
		}
	}
	m := map[string]any{}
	if err := mergeJSON(m, s); err != nil {
		return nil, err
	}
	labels := v.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	if err := mergeJSON(m, VersionView{VersionName: v.Name, Description: v.Description, URI: v.URI, Creator: v.Creator,
		CreatorName: v.CreatorName, Labels: labels, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}); err != nil {
		return nil, err
	}
	m[k.param] = a.ID
	if k.versions.source {
		m["approvalStatus"] = v.ApprovalStatus
		if v.ApprovedBy != "" {
			m["approvedBy"] = v.ApprovedBy
		}
		if v.ApprovedAt != nil {
			m["approvedAt"] = v.ApprovedAt.UTC().Format(time.RFC3339Nano)
		}
		m["sourceType"] = v.SourceType
		if v.SourceID != "" {
			m["sourceId"] = v.SourceID
		}
	}
	return m, nil
}

var semverRE = regexp.MustCompile(`^(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})(_[A-Za-z0-9][A-Za-z0-9.-]{0,31})?$`)

// parseSemver returns MAJOR, MINOR, PATCH of a version name, ok false if it is not one.
func parseSemver(name string) (v [3]int, ok bool) {
	m := semverRE.FindStringSubmatch(name)
	if m == nil {
		return v, false
	}
	for i := range 3 {
		fmt.Sscan(m[i+1], &v[i])
	}
	return v, true
}

// nextVersionName names a version the body did not name.
func (vk *versionKind) nextName(existing []*atrium.AssetVersion) string {
	if !vk.named {
		n := 0
		for _, v := range existing {
			var i int
			if _, err := fmt.Sscanf(v.Name, "v%d", &i); err == nil && i > n {
				n = i
			}
		}
		return fmt.Sprintf("v%d", n+1)
	}
	var hi [3]int
	found := false
	for _, v := range existing {
		s, ok := parseSemver(v.Name)
		if !ok {
			continue
		}
		if !found || s[0] > hi[0] || (s[0] == hi[0] && (s[1] > hi[1] || (s[1] == hi[1] && s[2] > hi[2]))) {
			hi, found = s, true
		}
	}
	if !found {
		return "0.1.0"
	}
	return fmt.Sprintf("%d.%d.0", hi[0], hi[1]+1)
}

func (k *assetKind) createVersion(c *call) (any, error) {
	vk := k.versions
	var req versionFields
	spec := vk.spec()
	body := c.r
	a, err := c.assetOf(k, k.code("Update"))
	if err != nil {
		return nil, err
	}
	if err := splitBody(body, vk.commonFields(), &req, spec, nil); err != nil {
		return nil, err
	}
	if err := checkDescription("description", req.Description); err != nil {
		return nil, err
	}
	if req.Labels == nil {
		req.Labels = map[string]string{}
	}
	if err := checkLabels("labels", req.Labels); err != nil {
		return nil, err
	}
	existing, err := c.s.Store.FindAssetVersions(c.ctx(), a.ID)
	if err != nil {
		return nil, err
	}
	name := req.VersionName
	if name == "" {
		name = vk.nextName(existing)
	} else if _, ok := parseSemver(name); !ok {
		return nil, atrium.FieldErrorf("versionName", "must be MAJOR.MINOR.PATCH with an optional _suffix, e.g. 1.0.0 or 1.2.0_rc1")
	}
	for _, v := range existing {
		if v.Name == name {
			return nil, &atrium.Error{Code: atrium.ECONFLICT, Field: "versionName", Message: fmt.Sprintf("%s %s already has a version %s", k.noun, a.ID, name)}
		}
	}
	v := &atrium.AssetVersion{AssetID: a.ID, WorkspaceID: a.WorkspaceID, Kind: k.kind, Name: name, Description: req.Description,
		URI: req.URI, Creator: c.user.ID, CreatorName: c.user.Name, Labels: req.Labels, SourceType: req.SourceType, SourceID: req.SourceID}
	if vk.uri {
		if req.URI == "" {
			return nil, atrium.FieldErrorf("uri", "is required")
		}
		if _, err := dataSourceType("uri", req.URI); err != nil {
			return nil, err
		}
	}
	if err := spec.check(c, a, v); err != nil {
		return nil, err
	}
	if v.Spec, err = json.Marshal(spec); err != nil {
		return nil, err
	}
	if err := c.s.Store.CreateAssetVersion(c.ctx(), v); err != nil {
		if atrium.ErrorCode(err) == atrium.ECONFLICT {
			return nil, &atrium.Error{Code: atrium.ECONFLICT, Field: "versionName", Message: fmt.Sprintf("%s %s already has a version %s", k.noun, a.ID, name)}
		}
		return nil, err
	}
	return k.versionView(a, v)
}

func (k *assetKind) listVersions(c *call) (any, error) {
	a, err := c.assetOf(k, k.code("Get"))
	if err != nil {
		return nil, err
	}
	vs, err := c.s.Store.FindAssetVersions(c.ctx(), a.ID)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].Seq > vs[j].Seq })
	out := make([]map[string]any, 0, len(vs))
	for _, v := range vs {
		m, err := k.versionView(a, v)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return newList(out, len(out), page{}), nil
}

// versionOf loads the asset and the version named by the path, authorizing
// code on the asset.
func (c *call) versionOf(k *assetKind, code string) (*atrium.Asset, *atrium.AssetVersion, error) {
	a, err := c.assetOf(k, code)
	if err != nil {
		return nil, nil, err
	}
	name := c.r.PathValue("versionName")
	v, err := c.s.Store.FindAssetVersion(c.ctx(), a.ID, name)
	if atrium.ErrorCode(err) == atrium.ENOTFOUND {
		return nil, nil, atrium.Errorf(atrium.ENOTFOUND, "%s %s has no version %q", k.noun, a.ID, name)
	}
	return a, v, err
}

func (k *assetKind) getVersion(c *call) (any, error) {
	a, v, err := c.versionOf(k, k.code("Get"))
	if err != nil {
		return nil, err
	}
	return k.versionView(a, v)
}

func (k *assetKind) deleteVersion(c *call) (any, error) {
	a, v, err := c.versionOf(k, k.code("Delete"))
	if err != nil {
		return nil, err
	}
	return nil, c.s.Store.DeleteAssetVersion(c.ctx(), a.ID, v.Name)
}
