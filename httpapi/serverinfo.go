package httpapi

import "context"

// What the jobs of the local resource group run in (Server.Runtime).
const (
	// RuntimeProcess: plain host processes (executor/local), not isolated.
	RuntimeProcess = "process"
	// RuntimeContainer: containers of a container runtime.
	RuntimeContainer = "container"
)

// ServerInfo is GET /api/v1/server: what this server runs jobs in, so
// users (the CLI, the console) know what isolation their jobs get.
type ServerInfo struct {
	// Runtime is "process" or "container".
	Runtime string `json:"runtime"`
	// Isolated is false when jobs run as plain host processes.
	Isolated bool `json:"isolated"`
	// Notice says in one sentence what jobs are not protected from; empty
	// when they are isolated.
	Notice string `json:"notice,omitempty"`
}

// NotIsolatedNotice is the one sentence users see when jobs run as plain
// processes (the console's banner, the API's notice).
const NotIsolatedNotice = "Jobs on this server are not isolated: they run as plain processes on its host " +
	"and can reach everything on the host's network, including Atrium's API."

// RuntimeInfo describes runtime; anything but "container" counts as
// process mode, the one that isolates nothing.
func RuntimeInfo(runtime string) ServerInfo {
	if runtime == RuntimeContainer {
		return ServerInfo{Runtime: runtime, Isolated: true}
	}
	return ServerInfo{Runtime: RuntimeProcess, Notice: NotIsolatedNotice}
}

func getServerInfo(c *call) (any, error) { return RuntimeInfo(c.s.Runtime), nil }

// ServerInfo reads what this server runs jobs in.
func (c *Client) ServerInfo(ctx context.Context) (*ServerInfo, error) {
	var out ServerInfo
	return &out, c.do(ctx, "GET", "/api/v1/server", nil, nil, &out, nil)
}
