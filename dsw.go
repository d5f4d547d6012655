package atrium

import (
	"context"
	"strings"
	"time"

	"atrium/resource"
)

// DSW instances are jobs of kind DSW with jobType DSW and a single
// pod of role Instance: they queue, are admitted and run through the same
// scheduler, loop and executors as training jobs. Their states are the
// job states Creating, Queuing, EnvPreparing, Running, Stopping, Stopped and
// Failed: an instance whose process ends is Stopped (exit 0) or Failed.
const (
	JobTypeDSW = "DSW"
	DSWRole    = "Instance"
)

// Reason codes of DSW instances.
const (
	// ReasonIdleTimeout: nobody used the instance through its proxy for
	// its idleTimeout.
	ReasonIdleTimeout = "IdleTimeout"
	// ReasonProcessEnded: the instance's process exited 0.
	ReasonProcessEnded = "ProcessEnded"
	// ReasonStartedByUser: a stopped instance was queued again.
	ReasonStartedByUser = "StartedByUser"
)

// Environment variables every DSW pod gets: the port its server should
// listen on (the proxy forwards there).
const (
	EnvDSWPort = "ATRIUM_DSW_PORT"
	EnvPort    = "PORT"
	// EnvDSWHost is the address an instance's server should bind:
	// 127.0.0.1 for a host process, 0.0.0.0 in a container (its network
	// is its own; Atrium's proxy reaches it on the container's address).
	EnvDSWHost = "ATRIUM_DSW_HOST"
)

var dswReservedEnvs = map[string]bool{EnvDSWPort: true, EnvPort: true, EnvDSWHost: true}

// DSWSpec is a DSW instance as created (YAML or JSON).
type DSWSpec struct {
	DisplayName string `json:"displayName"`
	Description string `json:"description,omitempty"`
	Image       string `json:"image"`
	// Resources of the instance's one pod.
	Resources resource.Spec `json:"resources"`
	// Command runs the instance's server (Jupyter, TensorBoard…), which
	// should listen on $ATRIUM_DSW_PORT (also in $PORT); empty runs
	// Atrium's built-in page on that port.
	Command       string            `json:"command,omitempty"`
	Envs          map[string]string `json:"envs,omitempty"`
	DataSources   []DataSource      `json:"dataSources,omitempty"`
	QuotaID       string            `json:"quotaId,omitempty"`
	Priority      int               `json:"priority,omitempty"`
	Accessibility string            `json:"accessibility,omitempty"`
	// IdleTimeout stops the instance when nobody used its proxy for that
	// long ("30m", "2h"); absent or 0 never.
	IdleTimeout    Duration `json:"idleTimeout,omitempty"`
	MaxRunningTime Duration `json:"maxRunningTime,omitempty"`
}

// ParseDSWSpec reads a DSW spec in YAML or JSON, rejecting unknown fields
// with their name.
func ParseDSWSpec(b []byte) (*DSWSpec, error) {
	var s DSWSpec
	if err := decodeSpec(b, &s, "a DSW instance spec"); err != nil {
		return nil, err
	}
	return &s, nil
}

// JobSpec is the job a DSW instance runs as: jobType DSW, one Instance pod.
// Its NormalizeFor(KindDSW) errors name jobSpecs[0].image and
// jobSpecs[0].resources for the instance's image and resources.
func (d *DSWSpec) JobSpec() *JobSpec {
	display := d.DisplayName
	if display == "" {
		display = "dsw"
	}
	return &JobSpec{DisplayName: display, Description: d.Description, JobType: JobTypeDSW, Command: d.Command,
		Envs:        d.Envs,
		JobSpecs:    []RoleSpec{{Type: DSWRole, PodCount: 1, Image: d.Image, Resources: d.Resources}},
		DataSources: d.DataSources, QuotaID: d.QuotaID, Priority: d.Priority, Accessibility: d.Accessibility,
		IdleTimeout: d.IdleTimeout, MaxRunningTime: d.MaxRunningTime}
}

// NormalizeDSWError renames the fields of a DSW instance's job spec in a
// validation error to the DSW spec's own (jobSpecs[0].image → image).
func NormalizeDSWError(err error) error {
	e := AsError(err)
	if e == nil || e.Field == "" {
		return err
	}
	for _, f := range []string{"image", "resources", "command"} {
		old := "jobSpecs[0]." + f
		if e.Field == old || strings.HasPrefix(e.Field, old+".") {
			c := *e
			c.Field = f + e.Field[len(old):]
			c.Message = strings.ReplaceAll(c.Message, old, f)
			return &c
		}
	}
	return err
}

// DSWHandoff is a one-time ticket that sends a user to a DSW instance on the
// DSW origin (the listener that serves instances, apart from the console's).
// The API mints it only after the authorizer let the user use the instance;
// the DSW origin redeems it once, on whichever replica the browser reaches,
// for a session cookie of its own. The store keeps only the token's hash.
type DSWHandoff struct {
	Hash        string
	InstanceID  string
	WorkspaceID string
	UserID      string
	ExpiresAt   time.Time
}

// DSWHandoffService keeps handoffs until they are redeemed or expire.
type DSWHandoffService interface {
	// CreateDSWHandoff stores h and forgets expired handoffs.
	CreateDSWHandoff(ctx context.Context, h *DSWHandoff) error
	// RedeemDSWHandoff consumes the handoff with this hash and returns it:
	// exactly one of concurrent callers gets it. ENOTFOUND when it is
	// unknown, already redeemed or expired.
	RedeemDSWHandoff(ctx context.Context, hash string) (*DSWHandoff, error)
}
