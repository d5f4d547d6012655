package httpapi

// The five asset kinds: their own fields (stored in atrium.Asset.Spec and
// AssetVersion.Spec), validation and the descriptors the shared handlers
// in assets.go take.

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"text/template"
	"text/template/parse"

	"atrium"
)

var (
	datasets = &assetKind{kind: atrium.AssetDataset, segment: "datasets", param: "datasetId", noun: "dataset", module: "Dataset",
		spec: func() assetSpec { return &DatasetSpec{} },
		view: DatasetView{}, listView: List[*DatasetView]{}, create: DatasetRequest{},
		versions: &versionKind{spec: func() versionSpec { return &DatasetVersionSpec{} }, naming: "named v1, v2… in order; its uri's scheme must match the dataset's", uri: true,
			view: DatasetVersionView{}, listView: List[*DatasetVersionView]{}, create: DatasetVersionRequest{}}}
	models = &assetKind{kind: atrium.AssetModel, segment: "models", param: "modelId", noun: "model", module: "Model",
		spec: func() assetSpec { return &ModelSpec{} },
		view: ModelView{}, listView: List[*ModelView]{}, create: ModelRequest{},
		versions: &versionKind{spec: func() versionSpec { return &ModelVersionSpec{} }, naming: "versionName MAJOR.MINOR.PATCH[_suffix], default 0.1.0, then the next minor; approvalStatus starts Pending",
			named: true, uri: true, source: true,
			view: ModelVersionView{}, listView: List[*ModelVersionView]{}, create: ModelVersionRequest{}}}
	images = &assetKind{kind: atrium.AssetImage, segment: "images", param: "imageId", noun: "image", module: "Image",
		spec: func() assetSpec { return &ImageSpec{} },
		view: ImageView{}, listView: List[*ImageView]{}, create: ImageRequest{}}
	codeSources = &assetKind{kind: atrium.AssetCodeSource, segment: "code-sources", param: "codeSourceId", noun: "code source", module: "CodeSource",
		spec: func() assetSpec { return &CodeSourceSpec{} }, secret: true,
		view: CodeSourceView{}, listView: List[*CodeSourceView]{}, create: CodeSourceRequest{}}
	algorithms = &assetKind{kind: atrium.AssetAlgorithm, segment: "algorithms", param: "algorithmId", noun: "algorithm", module: "Algorithm",
		spec: func() assetSpec { return &AlgorithmSpec{} },
		view: AlgorithmView{}, listView: List[*AlgorithmView]{}, create: AlgorithmRequest{},
		versions: &versionKind{spec: func() versionSpec { return &AlgorithmVersionSpec{} }, naming: "versionName MAJOR.MINOR.PATCH[_suffix], default 0.1.0, then the next minor",
			named: true, view: AlgorithmVersionView{}, listView: List[*AlgorithmVersionView]{}, create: AlgorithmVersionRequest{}}}
)

// --- Datasets ---

// DatasetSpec is a dataset's own fields.
type DatasetSpec struct {
	// DataType: COMMON (default), PIC, TEXT, VIDEO or AUDIO.
	DataType string `json:"dataType"`
	// Property: DIRECTORY (default) or FILE.
	Property string `json:"property"`
	// SourceType: USER (default) or LABELING.
	SourceType string `json:"sourceType"`
	URI        string `json:"uri"`
	// DataSourceType follows from the uri's scheme (OSS, NAS, S3, HDFS, FILE…).
	DataSourceType string `json:"dataSourceType"`
	// A labeling dataset names the dataset version it labels.
	SourceDatasetID      string `json:"sourceDatasetId,omitempty"`
	SourceDatasetVersion string `json:"sourceDatasetVersion,omitempty"`
}

// DatasetView is a dataset as answered.
type DatasetView struct {
	DatasetID string `json:"datasetId"`
	AssetView
	DatasetSpec
}

// DatasetRequest creates a dataset.
type DatasetRequest struct {
	AssetRequest
	DatasetSpec
}

var (
	dataTypes      = []string{"COMMON", "PIC", "TEXT", "VIDEO", "AUDIO"}
	dataProperties = []string{"DIRECTORY", "FILE"}
	uriSchemes     = map[string]string{"oss": "OSS", "nas": "NAS", "s3": "S3", "hdfs": "HDFS", "file": "FILE", "cpfs": "CPFS",
		"gs": "GCS", "http": "HTTP", "https": "HTTP", "pvc": "PVC", "odps": "MAXCOMPUTE"}
)

// dataSourceType checks a data uri and names its source type.
func dataSourceType(field, uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" || len(uri) > 1024 {
		return "", atrium.FieldErrorf(field, "must be a uri such as oss://bucket/path, nas://…, s3://…, hdfs://… or file:///path")
	}
	t, ok := uriSchemes[strings.ToLower(u.Scheme)]
	if !ok {
		return "", atrium.FieldErrorf(field, "scheme %q is not supported (oss, nas, s3, hdfs, file, cpfs, gs, http, https, pvc, odps)", u.Scheme)
	}
	if u.Host == "" && u.Path == "" && u.Opaque == "" {
		return "", atrium.FieldErrorf(field, "names no location")
	}
	return t, nil
}

func oneOfField(field, v string, allowed []string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return atrium.FieldErrorf(field, "must be one of %s", strings.Join(allowed, ", "))
}

func (s *DatasetSpec) check(c *call, a *atrium.Asset, old assetSpec) error {
	s.DataType, s.Property, s.SourceType = cmp.Or(s.DataType, "COMMON"), cmp.Or(s.Property, "DIRECTORY"), cmp.Or(s.SourceType, "USER")
	if err := oneOfField("dataType", s.DataType, dataTypes); err != nil {
		return err
	}
	if err := oneOfField("property", s.Property, dataProperties); err != nil {
		return err
	}
	if err := oneOfField("sourceType", s.SourceType, []string{"USER", "LABELING"}); err != nil {
		return err
	}
	if s.URI == "" {
		return atrium.FieldErrorf("uri", "is required")
	}
	t, err := dataSourceType("uri", s.URI)
	if err != nil {
		return err
	}
	if o, _ := old.(*DatasetSpec); o != nil {
		if s.SourceType != o.SourceType {
			return atrium.FieldErrorf("sourceType", "cannot change (it is %s)", o.SourceType)
		}
		if t != o.DataSourceType {
			return atrium.FieldErrorf("uri", "must stay of data source type %s (the dataset's versions are)", o.DataSourceType)
		}
		if s.SourceDatasetID != o.SourceDatasetID || s.SourceDatasetVersion != o.SourceDatasetVersion {
			return atrium.FieldErrorf("sourceDatasetId", "cannot change")
		}
		if s.SourceType == "LABELING" {
			return c.authorize("Dataset:UpdateLabelingDataset", assetResource(datasets, a))
		}
	} else if s.DataSourceType != "" && s.DataSourceType != t {
		return atrium.FieldErrorf("dataSourceType", "is %s for uri %s; leave it out", t, s.URI)
	}
	s.DataSourceType = t
	if s.SourceType != "LABELING" {
		if s.SourceDatasetID != "" || s.SourceDatasetVersion != "" {
			return atrium.FieldErrorf("sourceDatasetId", "is only for sourceType LABELING")
		}
		return nil
	}
	if old != nil {
		return nil
	}
	if err := c.authorize("Dataset:CreateLabelingDataset", authzWorkspace(c)); err != nil {
		return err
	}
	if s.SourceDatasetID == "" {
		return atrium.FieldErrorf("sourceDatasetId", "is required for a labeling dataset")
	}
	if s.SourceDatasetVersion == "" {
		return atrium.FieldErrorf("sourceDatasetVersion", "is required for a labeling dataset")
	}
	src, err := c.s.Store.FindAssetByID(c.ctx(), s.SourceDatasetID)
	if atrium.ErrorCode(err) == atrium.ENOTFOUND || (err == nil && (src.WorkspaceID != c.ws.ID || src.Kind != atrium.AssetDataset ||
		!c.allowed("Dataset:GetDataset", assetResource(datasets, src)))) {
		return atrium.FieldErrorf("sourceDatasetId", "dataset %q not found", s.SourceDatasetID)
	} else if err != nil {
		return err
	}
	if _, err := c.s.Store.FindAssetVersion(c.ctx(), src.ID, s.SourceDatasetVersion); atrium.ErrorCode(err) == atrium.ENOTFOUND {
		return atrium.FieldErrorf("sourceDatasetVersion", "dataset %s has no version %q", src.ID, s.SourceDatasetVersion)
	} else if err != nil {
		return err
	}
	return nil
}

// DatasetVersionSpec is a dataset version's own fields.
type DatasetVersionSpec struct {
	DataCount      int64  `json:"dataCount"`
	DataSize       int64  `json:"dataSize"`
	DataSourceType string `json:"dataSourceType"`
}

// DatasetVersionView is a dataset version as answered.
type DatasetVersionView struct {
	DatasetID string `json:"datasetId"`
	VersionView
	DatasetVersionSpec
}

// DatasetVersionRequest creates a dataset version (named v1, v2… in order).
type DatasetVersionRequest struct {
	URI         string            `json:"uri"`
	Description string            `json:"description,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	DataCount   int64             `json:"dataCount,omitempty"`
	DataSize    int64             `json:"dataSize,omitempty"`
}

func (s *DatasetVersionSpec) check(c *call, a *atrium.Asset, v *atrium.AssetVersion) error {
	if s.DataCount < 0 {
		return atrium.FieldErrorf("dataCount", "must not be negative")
	}
	if s.DataSize < 0 {
		return atrium.FieldErrorf("dataSize", "must not be negative")
	}
	var d DatasetSpec
	if err := json.Unmarshal(a.Spec, &d); err != nil {
		return err
	}
	t, err := dataSourceType("uri", v.URI)
	if err != nil {
		return err
	}
	if d.DataSourceType != "" && t != d.DataSourceType {
		return atrium.FieldErrorf("uri", "is of data source type %s; dataset %s is %s", t, a.ID, d.DataSourceType)
	}
	if s.DataSourceType != "" && s.DataSourceType != t {
		return atrium.FieldErrorf("dataSourceType", "is %s for uri %s; leave it out", t, v.URI)
	}
	s.DataSourceType = t
	return nil
}

// --- Models ---

// ModelSpec is a model's own fields.
type ModelSpec struct {
	Domain string `json:"domain,omitempty"`
	Task   string `json:"task,omitempty"`
}

// ModelView is a model as answered.
type ModelView struct {
	ModelID string `json:"modelId"`
	AssetView
	ModelSpec
}

// ModelRequest creates a model.
type ModelRequest struct {
	AssetRequest
	ModelSpec
}

func checkShort(field, v string) error {
	if len([]rune(v)) > 64 {
		return atrium.FieldErrorf(field, "must be at most 64 characters")
	}
	return nil
}

func (s *ModelSpec) check(c *call, a *atrium.Asset, old assetSpec) error {
	if err := checkShort("domain", s.Domain); err != nil {
		return err
	}
	return checkShort("task", s.Task)
}

// ModelVersionSpec is a model version's own fields.
type ModelVersionSpec struct {
	FormatType    string          `json:"formatType,omitempty"`
	FrameworkType string          `json:"frameworkType,omitempty"`
	Metrics       json.RawMessage `json:"metrics,omitempty"`
	InferenceSpec json.RawMessage `json:"inferenceSpec,omitempty"`
	TrainingSpec  json.RawMessage `json:"trainingSpec,omitempty"`
}

// ModelVersionView is a model version as answered.
type ModelVersionView struct {
	ModelID string `json:"modelId"`
	VersionView
	ModelVersionSpec
	ApprovalStatus string `json:"approvalStatus"`
	ApprovedBy     string `json:"approvedBy,omitempty"`
	ApprovedAt     string `json:"approvedAt,omitempty"`
	SourceType     string `json:"sourceType"`
	SourceID       string `json:"sourceId,omitempty"`
}

// ModelVersionRequest creates a model version.
type ModelVersionRequest struct {
	VersionName string            `json:"versionName,omitempty"`
	URI         string            `json:"uri"`
	Description string            `json:"description,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	// SourceType: Job, PipelineRun or Custom (default); a Job must have Succeeded.
	SourceType string `json:"sourceType,omitempty"`
	SourceID   string `json:"sourceId,omitempty"`
	ModelVersionSpec
}

// MaxMetricsBytes bounds a model version's metrics.
const MaxMetricsBytes = 8 << 10

func checkObject(field string, raw json.RawMessage, max int) (json.RawMessage, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, atrium.FieldErrorf(field, "must be a JSON object")
	}
	b, _ := json.Marshal(m)
	if len(b) > max {
		return nil, atrium.FieldErrorf(field, "must be at most %d bytes of JSON", max)
	}
	return b, nil
}

func (s *ModelVersionSpec) check(c *call, a *atrium.Asset, v *atrium.AssetVersion) error {
	if err := checkShort("formatType", s.FormatType); err != nil {
		return err
	}
	if err := checkShort("frameworkType", s.FrameworkType); err != nil {
		return err
	}
	var err error
	if s.Metrics, err = checkObject("metrics", s.Metrics, MaxMetricsBytes); err != nil {
		return err
	}
	if s.InferenceSpec, err = checkObject("inferenceSpec", s.InferenceSpec, 64<<10); err != nil {
		return err
	}
	if s.TrainingSpec, err = checkObject("trainingSpec", s.TrainingSpec, 64<<10); err != nil {
		return err
	}
	v.ApprovalStatus = atrium.ApprovalPending
	v.SourceType = cmp.Or(v.SourceType, "Custom")
	switch v.SourceType {
	case "Job":
		if v.SourceID == "" {
			return atrium.FieldErrorf("sourceId", "is required for sourceType Job: the id of the job that produced the model")
		}
		j, err := c.s.Store.FindJobByID(c.ctx(), v.SourceID)
		if atrium.ErrorCode(err) == atrium.ENOTFOUND || (err == nil && (j.WorkspaceID != c.ws.ID || !c.allowed("DLC:GetJob", jobResource(j)))) {
			return atrium.FieldErrorf("sourceId", "job %q not found in this workspace", v.SourceID)
		} else if err != nil {
			return err
		}
		if j.Status != atrium.JobSucceeded {
			return atrium.FieldErrorf("sourceId", "job %s is %s; a model version comes from a job that Succeeded", j.ID, j.Status)
		}
	case "PipelineRun":
		if v.SourceID == "" {
			return atrium.FieldErrorf("sourceId", "is required for sourceType PipelineRun")
		}
	case "Custom":
	default:
		return atrium.FieldErrorf("sourceType", "must be Job, PipelineRun or Custom")
	}
	if len(v.SourceID) > 128 {
		return atrium.FieldErrorf("sourceId", "must be at most 128 characters")
	}
	return nil
}

// --- Images ---

// ImageSpec is an image's own fields.
type ImageSpec struct {
	ImageURI string `json:"imageUri"`
}

// ImageView is an image as answered.
type ImageView struct {
	ImageID string `json:"imageId"`
	AssetView
	ImageSpec
}

// ImageRequest creates an image.
type ImageRequest struct {
	AssetRequest
	ImageSpec
}

var imageRefRE = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?(@sha256:[a-f0-9]{64})?$`)

func (s *ImageSpec) check(c *call, a *atrium.Asset, old assetSpec) error {
	if s.ImageURI == "" {
		return atrium.FieldErrorf("imageUri", "is required, e.g. registry.example.com/team/pytorch:2.3-cuda12")
	}
	if len(s.ImageURI) > 512 || !imageRefRE.MatchString(s.ImageURI) {
		return atrium.FieldErrorf("imageUri", "%q is not an image reference (registry/repository:tag or @sha256:digest)", s.ImageURI)
	}
	return nil
}

// --- Code sources ---

// CodeSourceSpec is a code source's own fields; its access token is kept
// apart, encrypted, and never answered.
type CodeSourceSpec struct {
	Repo      string `json:"repo"`
	Branch    string `json:"branch,omitempty"`
	Commit    string `json:"commit,omitempty"`
	MountPath string `json:"mountPath"`
}

// CodeSourceView is a code source as answered: hasAccessToken says whether
// it has a token, which is never shown.
type CodeSourceView struct {
	CodeSourceID string `json:"codeSourceId"`
	AssetView
	CodeSourceSpec
	HasAccessToken bool `json:"hasAccessToken"`
}

// CodeSourceRequest creates a code source; accessToken is write-only.
type CodeSourceRequest struct {
	AssetRequest
	CodeSourceSpec
	AccessToken string `json:"accessToken,omitempty"`
}

var (
	gitRepoRE   = regexp.MustCompile(`^((https?|ssh|git|file)://\S+|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:\S+)$`)
	mountPathRE = regexp.MustCompile(`^/[A-Za-z0-9._/-]{0,254}$`)
)

func (s *CodeSourceSpec) check(c *call, a *atrium.Asset, old assetSpec) error {
	if s.Repo == "" {
		return atrium.FieldErrorf("repo", "is required, e.g. https://github.com/org/repo.git")
	}
	if len(s.Repo) > 1024 || !gitRepoRE.MatchString(s.Repo) {
		return atrium.FieldErrorf("repo", "must be a git url (https://, ssh://, git://, file:// or user@host:path)")
	}
	if u, err := url.Parse(s.Repo); err == nil && u.User != nil {
		if _, hasPw := u.User.Password(); hasPw {
			return atrium.FieldErrorf("repo", "must not hold credentials; give accessToken instead")
		}
	}
	if s.Branch != "" && !atrium.ValidGitBranch(s.Branch) {
		return atrium.FieldErrorf("branch", "is not a valid branch name")
	}
	if s.Commit != "" && !atrium.ValidGitCommit(s.Commit) {
		return atrium.FieldErrorf("commit", "must be a hexadecimal commit id (7–64 characters)")
	}
	s.MountPath = cmp.Or(s.MountPath, "/root/code")
	if !mountPathRE.MatchString(s.MountPath) || strings.Contains(s.MountPath, "..") {
		return atrium.FieldErrorf("mountPath", "must be an absolute path")
	}
	return nil
}

// --- Algorithms ---

// AlgorithmSpec is an algorithm's own fields.
type AlgorithmSpec struct {
	Provider string `json:"provider,omitempty"`
}

// AlgorithmView is an algorithm as answered.
type AlgorithmView struct {
	AlgorithmID string `json:"algorithmId"`
	AssetView
	AlgorithmSpec
}

// AlgorithmRequest creates an algorithm.
type AlgorithmRequest struct {
	AssetRequest
	AlgorithmSpec
}

func (s *AlgorithmSpec) check(c *call, a *atrium.Asset, old assetSpec) error {
	return checkShort("provider", s.Provider)
}

// AlgorithmParam is a hyper-parameter of an algorithm version: the
// parameter of the component pipelines run.
type AlgorithmParam = atrium.ComponentParam

// AlgorithmIO is an input or output of an algorithm version.
type AlgorithmIO struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// AlgorithmVersionSpec is a component spec: what a pipeline runs.
type AlgorithmVersionSpec struct {
	Image string `json:"image"`
	// CommandTemplate may use {{.param}} for each declared param.
	CommandTemplate string           `json:"commandTemplate"`
	Params          []AlgorithmParam `json:"params"`
	Inputs          []AlgorithmIO    `json:"inputs"`
	Outputs         []AlgorithmIO    `json:"outputs"`
}

// AlgorithmVersionView is an algorithm version as answered.
type AlgorithmVersionView struct {
	AlgorithmID string `json:"algorithmId"`
	VersionView
	AlgorithmVersionSpec
}

// AlgorithmVersionRequest creates an algorithm version.
type AlgorithmVersionRequest struct {
	VersionName string            `json:"versionName,omitempty"`
	Description string            `json:"description,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	AlgorithmVersionSpec
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

func (s *AlgorithmVersionSpec) check(c *call, a *atrium.Asset, v *atrium.AssetVersion) error {
	if err := (&ImageSpec{ImageURI: s.Image}).check(c, nil, nil); err != nil {
		return atrium.FieldErrorf("image", "%s", strings.TrimPrefix(atrium.ErrorMessage(err), "imageUri "))
	}
	if strings.TrimSpace(s.CommandTemplate) == "" {
		return atrium.FieldErrorf("commandTemplate", "is required")
	}
	if len(s.CommandTemplate) > 16<<10 {
		return atrium.FieldErrorf("commandTemplate", "must be at most 16 KiB")
	}
	declared := map[string]bool{}
	for i, p := range s.Params {
		f := fmt.Sprintf("params[%d]", i)
		if !identRE.MatchString(p.Name) {
			return atrium.FieldErrorf(f+".name", "must be an identifier (letters, digits, _)")
		}
		if declared[p.Name] {
			return atrium.FieldErrorf(f+".name", "%q is declared twice", p.Name)
		}
		declared[p.Name] = true
		if err := oneOfField(f+".type", p.Type, atrium.ParamTypes); err != nil {
			return err
		}
		if p.Default != nil && !atrium.ValueFits(p.Type, p.Default) {
			return atrium.FieldErrorf(f+".default", "must be a %s", p.Type)
		}
	}
	for _, io := range []struct {
		field string
		list  []AlgorithmIO
	}{{"inputs", s.Inputs}, {"outputs", s.Outputs}} {
		seen := map[string]bool{}
		for i, x := range io.list {
			f := fmt.Sprintf("%s[%d]", io.field, i)
			if !identRE.MatchString(x.Name) {
				return atrium.FieldErrorf(f+".name", "must be an identifier (letters, digits, _)")
			}
			if seen[x.Name] {
				return atrium.FieldErrorf(f+".name", "%q is declared twice", x.Name)
			}
			seen[x.Name] = true
			if x.Type == "" || len(x.Type) > 64 {
				return atrium.FieldErrorf(f+".type", "is required (e.g. dataset, model, file), at most 64 characters")
			}
		}
	}
	t, err := template.New("cmd").Parse(s.CommandTemplate)
	if err != nil {
		return atrium.FieldErrorf("commandTemplate", "is not a valid template: %v", err)
	}
	var undeclared string
	walkFields(t.Root, func(name string) {
		if !declared[name] && undeclared == "" {
			undeclared = name
		}
	})
	if undeclared != "" {
		return atrium.FieldErrorf("commandTemplate", "uses {{.%s}}, which is not a declared param", undeclared)
	}
	if s.Params == nil {
		s.Params = []AlgorithmParam{}
	}
	if s.Inputs == nil {
		s.Inputs = []AlgorithmIO{}
	}
	if s.Outputs == nil {
		s.Outputs = []AlgorithmIO{}
	}
	return nil
}

// walkFields calls fn with the first name of every field reference ({{.x}}) in the template.
func walkFields(n parse.Node, fn func(string)) {
	switch x := n.(type) {
	case *parse.ListNode:
		if x == nil {
			return
		}
		for _, c := range x.Nodes {
			walkFields(c, fn)
		}
	case *parse.ActionNode:
		walkFields(x.Pipe, fn)
	case *parse.PipeNode:
		if x == nil {
			return
		}
		for _, cmd := range x.Cmds {
			walkFields(cmd, fn)
		}
	case *parse.CommandNode:
		for _, a := range x.Args {
			walkFields(a, fn)
		}
	case *parse.FieldNode:
		if len(x.Ident) > 0 {
			fn(x.Ident[0])
		}
	case *parse.IfNode:
		walkFields(x.Pipe, fn)
		walkFields(x.List, fn)
		walkFields(x.ElseList, fn)
	case *parse.RangeNode:
		walkFields(x.Pipe, fn)
		walkFields(x.List, fn)
		walkFields(x.ElseList, fn)
	case *parse.WithNode:
		walkFields(x.Pipe, fn)
		walkFields(x.List, fn)
		walkFields(x.ElseList, fn)
	}
}
