package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"atrium"
	"atrium/hostcap"
	"atrium/resource"
)

// registerLocal keeps the local resource group in step with this host: the
// group rg-local holds a node named after the host with the detected (or
// --local-capacity) capacity. When the group is new, the public pool
// quota-public is created over it, offered to every workspace, so a new
// workspace can run jobs at once; later starts keep its max at the group's
// capacity. An admin who deleted or withdrew the pool is not overruled.
func registerLocal(ctx context.Context, db atrium.Store, c hostcap.Capacity, logger *slog.Logger) error {
	ctx = atrium.WithAudit(ctx, &atrium.Audit{ActorName: "system", Action: "ResourceGroup:UpdateResourceGroup", RequestID: "startup", Status: 200})
	created := false
	if _, err := db.FindResourceGroupByID(ctx, atrium.LocalResourceGroupID); atrium.ErrorCode(err) == atrium.ENOTFOUND {
		g := &atrium.ResourceGroup{ID: atrium.LocalResourceGroupID, Name: "local", Backend: atrium.BackendLocal,
			Description: "This host, run by the local executor"}
		if err := db.CreateResourceGroup(ctx, g); err != nil && atrium.ErrorCode(err) != atrium.ECONFLICT {
			return fmt.Errorf("register local resource group: %w", err)
		}
		created = true
	} else if err != nil {
		return err
	}
	host, _ := os.Hostname()
	n := &atrium.Node{Name: nodeName(host), GroupID: atrium.LocalResourceGroupID, GPUType: c.GPUType, Capacity: c.Vector,
		State: atrium.NodeReady, Labels: map[string]string{"hostname": host}}
	if err := db.PutNode(ctx, n); err != nil {
		return fmt.Errorf("register local node %s: %w", n.Name, err)
	}
	logger.Info("local resource group ready", "resourceGroup", atrium.LocalResourceGroupID, "node", n.Name, "capacity", c.String())

	total, err := groupCapacity(ctx, db, atrium.LocalResourceGroupID)
	if err != nil {
		return err
	}
	if created {
		q := &atrium.Quota{ID: atrium.PublicQuotaID, Name: "public", Description: "Public pool over this host, offered to every workspace",
			ResourceGroups: []string{atrium.LocalResourceGroupID}, Min: resource.List{}, Max: total,
			QueueStrategy: atrium.RoundRobin, OfferedToAll: true, OfferedTo: []string{}}
		if err := db.CreateQuota(atrium.WithAudit(ctx, &atrium.Audit{ActorName: "system", Action: "Quota:CreateQuota", RequestID: "startup", Status: 201}), q); err != nil && atrium.ErrorCode(err) != atrium.ECONFLICT {
			return fmt.Errorf("create %s: %w", atrium.PublicQuotaID, err)
		}
		return nil
	}
	q, err := db.FindQuotaByID(ctx, atrium.PublicQuotaID)
	if atrium.ErrorCode(err) == atrium.ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	if len(q.ResourceGroups) == 1 && q.ResourceGroups[0] == atrium.LocalResourceGroupID && !listEqual(q.Max, total) {
		q.Max = total
		if err := db.UpdateQuota(atrium.WithAudit(ctx, &atrium.Audit{ActorName: "system", Action: "Quota:UpdateQuota", RequestID: "startup", Status: 200}), q); err != nil {
			// A sub-quota may hold more than the smaller host now offers.
			logger.Warn("cannot follow the host's capacity in the public pool", "quota", q.ID, "err", atrium.ErrorMessage(err))
		}
	}
	return nil
}

// groupCapacity sums the capacity of a group's nodes per gpuType.
func groupCapacity(ctx context.Context, db atrium.Store, groupID string) (resource.List, error) {
	nodes, err := db.FindNodes(ctx, groupID)
	if err != nil {
		return nil, err
	}
	total := resource.List{}
	for _, n := range nodes {
		total[n.GPUType] = total[n.GPUType].Add(n.Capacity)
	}
	return total, nil
}

func listEqual(a, b resource.List) bool {
	return a.LessEq(b) && b.LessEq(a) && len(a) == len(b)
}

// nodeName turns a hostname into a valid node name.
func nodeName(host string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(host) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '-' || r == '.' || r == '_':
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "-")
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		s = "host-" + s
	}
	if len(s) > 63 {
		s = strings.TrimRight(s[:63], "-")
	}
	if len(s) < 2 {
		s = "localhost"
	}
	return s
}
