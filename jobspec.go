package atrium

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"sigs.k8s.io/yaml"

	"atrium/resource"
)

// JobSpec is a DLC job as submitted, in YAML or JSON.
type JobSpec struct {
	DisplayName string            `json:"displayName"`
	Description string            `json:"description,omitempty"`
	JobType     string            `json:"jobType"`
	Command     string            `json:"command,omitempty"`
	Envs        map[string]string `json:"envs,omitempty"`
	JobSpecs    []RoleSpec        `json:"jobSpecs"`
	DataSources []DataSource      `json:"dataSources,omitempty"`
	CodeSource  *CodeSourceRef    `json:"codeSource,omitempty"`
	QuotaID     string            `json:"quotaId,omitempty"`
	Priority    int               `json:"priority,omitempty"`
	// MaxRunningTime caps the run ("90s", "2h"); MaxRunningTimeMinutes is
	// PAI's spelling of the same.
	MaxRunningTime        Duration `json:"maxRunningTime,omitempty"`
	MaxRunningTimeMinutes int      `json:"maxRunningTimeMinutes,omitempty"`
	Accessibility         string   `json:"accessibility,omitempty"`
	// RestartPolicy: Never (default) or OnFailure, restarting the whole
	// gang up to MaxRestarts times when a pod fails.
	RestartPolicy string `json:"restartPolicy,omitempty"`
	MaxRestarts   int    `json:"maxRestarts,omitempty"`
	// IdleTimeout stops a DSW instance nobody used (through its proxy) for
	// that long; 0 never. DSW instances only.
	IdleTimeout Duration `json:"idleTimeout,omitempty"`
	// SQL is what a SQL job (Kind SQL) runs, and its result once it ended.
	SQL *SQLJobSpec `json:"sql,omitempty"`
}

// RoleSpec is one jobSpecs entry: pods of one role.
type RoleSpec struct {
	Type      string        `json:"type"`
	PodCount  int           `json:"podCount"`
	Image     string        `json:"image"`
	Command   string        `json:"command,omitempty"` // overrides the job's command for this role
	Resources resource.Spec `json:"resources"`
}

// DataSource mounts a dataset version into the pods.
type DataSource struct {
	DatasetID string `json:"datasetId,omitempty"`
	Version   string `json:"version,omitempty"`
	URI       string `json:"uri,omitempty"`
	MountPath string `json:"mountPath"`
}

// CodeSourceRef mounts a code source into the pods.
type CodeSourceRef struct {
	CodeSourceID string `json:"codeSourceId"`
	Branch       string `json:"branch,omitempty"`
	Commit       string `json:"commit,omitempty"`
	MountPath    string `json:"mountPath"`
}

// jobRoles lists the role types each jobType allows; the first is the
// coordinator (rank 0), and coordinators may have at most one pod.
var jobRoles = map[string][]string{
	"PyTorchJob": {"Master", "Worker"},
	"XGBoostJob": {"Master", "Worker"},
	"TFJob":      {"Chief", "PS", "Worker", "Evaluator"},
	"MPIJob":     {"Launcher", "Worker"},
	"RayJob":     {"Head", "Worker"},
	"CustomJob":  {"Worker"},
}

// requiredRole names the role a job type cannot run without.
var requiredRole = map[string]string{"MPIJob": "Launcher", "RayJob": "Head"}

// JobTypes lists the DLC job types in a stable order.
func JobTypes() []string {
	out := make([]string, 0, len(jobRoles))
	for t := range jobRoles {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// rolesOf returns the role types of a job type, DSW's single Instance
// included (JobTypes lists only the DLC types).
func rolesOf(jobType string) []string {
	if jobType == JobTypeDSW {
		return []string{DSWRole}
	}
	return jobRoles[jobType]
}

// RoleOrder returns the rank order of a role within its job type (the
// coordinator first) and whether the role holds a single coordinator pod.
func RoleOrder(jobType, role string) (order int, coordinator bool) {
	roles := rolesOf(jobType)
	for i, r := range roles {
		if r == role {
			return i, i == 0 && jobType != "CustomJob"
		}
	}
	return len(roles), false
}

// MaxSpecBytes bounds a submitted spec.
const MaxSpecBytes = 256 << 10

// ParseJobSpec reads a job spec in YAML or JSON, rejecting unknown fields
// with their name.
func ParseJobSpec(b []byte) (*JobSpec, error) {
	var s JobSpec
	if err := decodeSpec(b, &s, "a job spec"); err != nil {
		return nil, err
	}
	return &s, nil
}

// decodeSpec reads one YAML or JSON document into v, rejecting unknown
// fields with their name; what names the document in errors.
func decodeSpec(b []byte, v any, what string) error {
	if len(b) > MaxSpecBytes {
		return FieldErrorf("spec", "must be at most %d bytes", MaxSpecBytes)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return FieldErrorf("spec", "is empty")
	}
	js, err := yaml.YAMLToJSON(b)
	if err != nil {
		return FieldErrorf("spec", "is not valid YAML or JSON: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return specDecodeError(err, what)
	}
	if _, err := dec.Token(); err != io.EOF {
		return FieldErrorf("spec", "must hold a single document")
	}
	return nil
}

func specDecodeError(err error, what string) error {
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "spec"
		}
		return FieldErrorf(field, "has the wrong type: got %s, want %s", typ.Value, typ.Type.String())
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json quotes the key with %q; show the key as sent.
		quoted := strings.TrimPrefix(err.Error(), "json: unknown field ")
		name, uerr := strconv.Unquote(quoted)
		if uerr != nil {
			name = strings.Trim(quoted, `"`)
		}
		if name == "" { // an empty key ({"": 1}) has no name to show
			return FieldErrorf("spec", "has a field with an empty name, which is not a known field of %s", what)
		}
		return FieldErrorf(name, "is not a known field of %s", what)
	}
	if e := AsError(err); e != nil {
		return e
	}
	// Errors from UnmarshalJSON methods (durations, quantities) lack the
	// path; name the spec and keep the message.
	return FieldErrorf("spec", "%v", err)
}

var (
	roleTypeRE  = regexp.MustCompile(`^[A-Z][A-Za-z0-9]{0,31}$`)
	envNameRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	mountPathRE = regexp.MustCompile(`^/[A-Za-z0-9._/-]*$`)
)

var (
	gitBranchRE = regexp.MustCompile(`^[A-Za-z0-9._][A-Za-z0-9._/-]{0,254}$`)
	gitCommitRE = regexp.MustCompile(`^[0-9a-f]{7,64}$`)
)

// imageRefRE is an OCI image reference, loosely: what podman takes as an
// image name, never as one of its options.
var imageRefRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,254}$`)

// ValidImageRef reports whether s can name an image.
func ValidImageRef(s string) bool { return imageRefRE.MatchString(s) }

// ValidGitBranch: a branch name git takes as such, never as an option
// (no leading '-') nor as a range ("..").
func ValidGitBranch(s string) bool { return gitBranchRE.MatchString(s) && !strings.Contains(s, "..") }

// ValidGitCommit: a hexadecimal commit id.
func ValidGitCommit(s string) bool { return gitCommitRE.MatchString(s) }

// reservedEnvs are set by Atrium for every pod.
var reservedEnvs = map[string]bool{"RANK": true, "WORLD_SIZE": true, "MASTER_ADDR": true, "MASTER_PORT": true,
	"LOCAL_RANK": true, "CUDA_VISIBLE_DEVICES": true, "ATRIUM_JOB_ID": true, "ATRIUM_WORKSPACE_ID": true,
	"NVIDIA_VISIBLE_DEVICES": true, EnvOutputDir: true}

// EnvOutputDir names a training job's output directory in its pods.
const EnvOutputDir = "ATRIUM_OUTPUT_DIR"

// MaxPodsPerJob bounds a gang.
const MaxPodsPerJob = 1024

// Normalize checks a DLC job's spec on its own and fills defaults: display
// name, accessibility PRIVATE, maxRunningTime from maxRunningTimeMinutes,
// restart policy Never. Workspace rules (quota bound, priority cap, runtime
// cap) are checked where the workspace is known.
func (s *JobSpec) Normalize() error { return s.NormalizeFor(KindDLC) }

// NormalizeFor is Normalize for a job of kind: DLC jobs take the DLC job
// types, DSW instances only jobType DSW with one Instance pod (built by
// DSWSpec.JobSpec).
func (s *JobSpec) NormalizeFor(kind string) error {
	if s.SQL != nil {
		return FieldErrorf("sql", "only SQL jobs run SQL (submit them with POST …/sql-jobs)")
	}
	roles, ok := jobRoles[s.JobType]
	dsw := kind == KindDSW
	switch {
	case dsw && s.JobType != JobTypeDSW:
		return FieldErrorf("jobType", "must be %s for a DSW instance", JobTypeDSW)
	case dsw:
		roles = rolesOf(JobTypeDSW)
	case s.JobType == JobTypeDSW:
		return FieldErrorf("jobType", "DSW is not a training job type (create DSW instances with POST …/dsw-instances); must be one of %s", strings.Join(JobTypes(), ", "))
	case !ok:
		return FieldErrorf("jobType", "must be one of %s", strings.Join(JobTypes(), ", "))
	}
	if s.DisplayName == "" {
		s.DisplayName = strings.ToLower(s.JobType)
	}
	if utf8.RuneCountInString(s.DisplayName) > 128 {
		return FieldErrorf("displayName", "must be at most 128 characters")
	}
	if utf8.RuneCountInString(s.Description) > 1024 {
		return FieldErrorf("description", "must be at most 1024 characters")
	}
	if len(s.JobSpecs) == 0 {
		return FieldErrorf("jobSpecs", "must list at least one role, e.g. {type: %s, podCount: 1, image: …, resources: {cpu: 1, memory: 1Gi}}", roles[len(roles)-1])
	}
	seen, pods := map[string]bool{}, 0
	for i := range s.JobSpecs {
		r := &s.JobSpecs[i]
		f := "jobSpecs[" + strconv.Itoa(i) + "]"
		allowed := false
		for _, a := range roles {
			allowed = allowed || a == r.Type
		}
		if s.JobType == "CustomJob" {
			allowed = roleTypeRE.MatchString(r.Type)
		}
		if !allowed {
			return FieldErrorf(f+".type", "%q is not a role of a %s; use %s", r.Type, s.JobType, strings.Join(roles, " or "))
		}
		if seen[r.Type] {
			return FieldErrorf(f+".type", "role %s is listed twice", r.Type)
		}
		seen[r.Type] = true
		if r.PodCount < 1 {
			return FieldErrorf(f+".podCount", "must be at least 1")
		}
		if _, coord := RoleOrder(s.JobType, r.Type); coord && r.PodCount != 1 {
			return FieldErrorf(f+".podCount", "a %s of a %s has exactly one pod", r.Type, s.JobType)
		}
		if pods += r.PodCount; pods > MaxPodsPerJob {
			return FieldErrorf(f+".podCount", "a job may have at most %d pods in all", MaxPodsPerJob)
		}
		if strings.TrimSpace(r.Image) == "" {
			return FieldErrorf(f+".image", "is required, e.g. pytorch:2.4-cuda12")
		}
		if !ValidImageRef(r.Image) {
			return FieldErrorf(f+".image", "must be an image reference such as registry.example.com/team/trainer:1.0 (letters, digits and . _ - / : @ +, not starting with '-')")
		}
		v, err := r.Resources.Vector(f + ".resources")
		if err != nil {
			return err
		}
		if v.MilliCPU <= 0 || v.Memory <= 0 {
			return FieldErrorf(f+".resources", "must request cpu and memory above 0, e.g. {cpu: 4, memory: 16Gi}")
		}
		if r.Command == "" && s.Command == "" && !dsw { // DSW: the built-in page
			return FieldErrorf(f+".command", "is required when the job has no command")
		}
	}
	if need := requiredRole[s.JobType]; need != "" && !seen[need] {
		return FieldErrorf("jobSpecs", "a %s needs a %s role", s.JobType, need)
	}
	for k := range s.Envs {
		if !envNameRE.MatchString(k) {
			return FieldErrorf("envs."+k, "is not a valid environment variable name")
		}
		if reservedEnvs[k] || (dsw && dswReservedEnvs[k]) {
			return FieldErrorf("envs."+k, "is set by Atrium for every pod and cannot be overridden")
		}
	}
	for i, d := range s.DataSources {
		f := "dataSources[" + strconv.Itoa(i) + "]"
		if d.DatasetID == "" && d.URI == "" {
			return FieldErrorf(f+".datasetId", "is required (or give uri)")
		}
		if !mountPathRE.MatchString(d.MountPath) {
			return FieldErrorf(f+".mountPath", "must be an absolute path such as /mnt/data")
		}
	}
	if c := s.CodeSource; c != nil {
		if c.CodeSourceID == "" {
			return FieldErrorf("codeSource.codeSourceId", "is required")
		}
		if c.Branch != "" && !ValidGitBranch(c.Branch) {
			return FieldErrorf("codeSource.branch", "is not a valid branch name")
		}
		if c.Commit != "" && !ValidGitCommit(c.Commit) {
			return FieldErrorf("codeSource.commit", "must be a hexadecimal commit id (7–64 characters)")
		}
		if !mountPathRE.MatchString(c.MountPath) {
			return FieldErrorf("codeSource.mountPath", "must be an absolute path such as /root/code")
		}
	}
	if s.Priority < 0 || s.Priority > 9 {
		return FieldErrorf("priority", "must be 1–9 (9 highest)")
	}
	switch {
	case s.MaxRunningTimeMinutes < 0:
		return FieldErrorf("maxRunningTimeMinutes", "must not be negative")
	case s.MaxRunningTimeMinutes > 0 && s.MaxRunningTime > 0 && time.Duration(s.MaxRunningTime) != time.Duration(s.MaxRunningTimeMinutes)*time.Minute:
		return FieldErrorf("maxRunningTimeMinutes", "disagrees with maxRunningTime; give one of them")
	case s.MaxRunningTimeMinutes > 0:
		s.MaxRunningTime = Duration(time.Duration(s.MaxRunningTimeMinutes) * time.Minute)
	}
	switch s.Accessibility {
	case "":
		s.Accessibility = AccessPrivate
	case AccessPrivate, AccessPublic:
	default:
		return FieldErrorf("accessibility", "must be PRIVATE or PUBLIC")
	}
	switch s.RestartPolicy {
	case "":
		s.RestartPolicy = "Never"
	case "Never", "OnFailure":
	default:
		return FieldErrorf("restartPolicy", "must be Never or OnFailure")
	}
	switch {
	case s.IdleTimeout < 0:
		return FieldErrorf("idleTimeout", "must not be negative")
	case s.IdleTimeout > 0 && !dsw:
		return FieldErrorf("idleTimeout", "applies to DSW instances only")
	case dsw && s.RestartPolicy != "Never":
		return FieldErrorf("restartPolicy", "a DSW instance is not restarted by policy; start it again instead")
	}
	if s.MaxRestarts < 0 || s.MaxRestarts > 100 {
		return FieldErrorf("maxRestarts", "must be 0–100")
	} else if s.MaxRestarts > 0 && s.RestartPolicy != "OnFailure" {
		return FieldErrorf("maxRestarts", "needs restartPolicy: OnFailure")
	}
	return nil
}

// RoleCap returns the highest priority a member holding roles may ask for
// under cfg, and the role that grants it ("" if no role has a cap: then 1).
func RoleCap(cfg *WorkspaceConfig, roles []string) (int, string) {
	best, by := 0, ""
	for _, r := range roles {
		if p, ok := cfg.MaxPriority[r]; ok && p > best {
			best, by = p, r
		}
	}
	if best == 0 {
		return 1, ""
	}
	return best, by
}

// CheckPolicy applies the workspace's rules to a normalized spec of kind:
// default priority, the caller's priority cap, the runtime cap. It returns
// the effective priority and max running time.
func (s *JobSpec) CheckPolicy(cfg *WorkspaceConfig, kind string, roles []string) (int, time.Duration, error) {
	prio := s.Priority
	if prio == 0 {
		prio = cfg.DefaultPriority[kind]
		if prio == 0 {
			prio = 1
		}
	}
	if limit, by := RoleCap(cfg, roles); prio > limit {
		if by == "" {
			return 0, 0, FieldErrorf("priority", "%d is above your cap of %d: none of your roles has a maxPriority in the workspace config", prio, limit)
		}
		return 0, 0, FieldErrorf("priority", "%d is above the cap of %d for your role %s (workspace config maxPriority)", prio, limit, by)
	}
	run := time.Duration(s.MaxRunningTime)
	if limit := time.Duration(cfg.MaxRunningTime[kind]); limit > 0 {
		switch {
		case run == 0:
			run = limit
		case run > limit:
			return 0, 0, FieldErrorf("maxRunningTime", "%s is above the workspace's cap of %s for %s jobs", run, limit, kind)
		}
	}
	return prio, run, nil
}

// itoa keeps call sites short.
func itoa(i int) string { return fmt.Sprint(i) }
