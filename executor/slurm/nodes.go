package slurm

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"atrium"
	"atrium/resource"
)

// NodeInfo is a Slurm node as `scontrol show node` reports it, for importing
// the nodes of a slurm resource group.
type NodeInfo struct {
	Name       string
	Partitions []string
	CPUs       int    // CPUTot
	MemoryMiB  int64  // RealMemory
	GPUs       int64  // gpu GRES count (all types)
	GPUType    string // type of the first gpu GRES ("" when untyped)
	State      string // atrium.NodeReady, NodeDraining or NodeNotReady
	SlurmState string // as Slurm says it, e.g. IDLE, MIXED+DRAIN, DOWN*
}

// Capacity is the node's capacity in Atrium's units.
func (n NodeInfo) Capacity() resource.Vector {
	return resource.Vector{MilliCPU: int64(n.CPUs) * 1000, Memory: n.MemoryMiB * mib, GPU: n.GPUs}
}

// Node is n as a node of resource group groupID.
func (n NodeInfo) Node(groupID string) atrium.Node {
	return atrium.Node{Name: n.Name, GroupID: groupID, GPUType: n.GPUType, Capacity: n.Capacity(), State: n.State}
}

// ImportNodes lists the nodes of the configured partition (all nodes when
// Config.Partition is empty) from `scontrol show node -o`.
func (e *Executor) ImportNodes(ctx context.Context) ([]NodeInfo, error) {
	out, err := e.run(ctx, e.cfg.Scontrol, "show", "node", "-o")
	if err != nil {
		return nil, err
	}
	nodes := parseNodes(out)
	if e.cfg.Partition == "" {
		return nodes, nil
	}
	var in []NodeInfo
	for _, n := range nodes {
		if slices.Contains(n.Partitions, e.cfg.Partition) {
			in = append(in, n)
		}
	}
	return in, nil
}

// parseNodes parses `scontrol show node -o` (one node per line).
func parseNodes(out string) []NodeInfo {
	var nodes []NodeInfo
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "NodeName=") {
			continue
		}
		m := parseKV(line)
		n := NodeInfo{Name: m["NodeName"], SlurmState: m["State"]}
		n.CPUs, _ = strconv.Atoi(m["CPUTot"])
		n.MemoryMiB, _ = strconv.ParseInt(m["RealMemory"], 10, 64)
		if p := m["Partitions"]; p != "" && p != "(null)" {
			n.Partitions = strings.Split(p, ",")
		}
		n.GPUs, n.GPUType = parseGres(m["Gres"])
		n.State = nodeState(n.SlurmState)
		nodes = append(nodes, n)
	}
	return nodes
}

// parseGres sums the gpu entries of a Gres value such as
// "gpu:a100:4(S:0-1),gpu:a100:4" or "gpu:2" and returns the first type.
func parseGres(s string) (int64, string) {
	var total int64
	typ := ""
	for _, g := range splitGres(s) {
		if i := strings.IndexByte(g, '('); i >= 0 {
			g = g[:i]
		}
		parts := strings.Split(g, ":")
		if parts[0] != "gpu" || len(parts) < 2 {
			continue
		}
		n, err := strconv.ParseInt(parts[len(parts)-1], 10, 64)
		if err != nil {
			continue
		}
		total += n
		for _, p := range parts[1 : len(parts)-1] {
			if p != "no_consume" && typ == "" {
				typ = p
			}
		}
	}
	return total, typ
}

// splitGres splits on commas outside parentheses ("(S:0,1)" holds commas).
func splitGres(s string) []string {
	if s == "" || s == "(null)" {
		return nil
	}
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// nodeState maps a Slurm node state to Atrium's: idle, mixed, allocated,
// completing → Ready; drain, draining, drained, fail → Draining; down,
// not responding (*), unknown, powered down and the rest → NotReady.
func nodeState(s string) string {
	u := strings.ToUpper(s)
	if strings.HasSuffix(u, "*") {
		return atrium.NodeNotReady
	}
	parts := strings.Split(u, "+")
	base, flags := parts[0], parts[1:]
	if base == "DOWN" || base == "UNKNOWN" || base == "FUTURE" || base == "ERROR" {
		return atrium.NodeNotReady
	}
	for _, f := range flags {
		switch f {
		case "NOT_RESPONDING", "POWERED_DOWN", "POWER_DOWN", "POWERING_DOWN", "POWERING_UP", "REBOOT_ISSUED", "MAINT":
			return atrium.NodeNotReady
		}
	}
	if base == "DRAIN" || base == "DRAINING" || base == "DRAINED" || base == "FAIL" || base == "FAILING" {
		return atrium.NodeDraining
	}
	for _, f := range flags {
		if f == "DRAIN" || f == "FAIL" {
			return atrium.NodeDraining
		}
	}
	switch base {
	case "IDLE", "MIXED", "ALLOCATED", "ALLOC", "MIX", "COMPLETING":
		return atrium.NodeReady
	}
	return atrium.NodeNotReady
}
