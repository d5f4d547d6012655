package httpapi

import "atrium"

// importNodes records the nodes a resource group's backend reports.
func importNodes(c *call) (any, error) {
	g, err := c.s.Store.FindResourceGroupByID(c.ctx(), c.r.PathValue("resourceGroupId"))
	if err != nil {
		return nil, err
	}
	if g.Backend != atrium.BackendSlurm {
		return nil, atrium.Errorf(atrium.ECONFLICT, "resource group %s has backend %s; only slurm groups import their nodes (register others with PUT …/nodes/{name})", g.ID, g.Backend)
	}
	if c.s.Jobs == nil {
		return nil, atrium.Errorf(atrium.EUNAVAILABLE, "this server runs no executors")
	}
	if _, ok := c.s.Jobs.Executor(g.Backend); !ok {
		return nil, atrium.Errorf(atrium.EUNAVAILABLE, "this server has no %s executor (is sbatch installed on it?)", g.Backend)
	}
	nodes, err := c.s.Jobs.ImportNodes(c.ctx(), g)
	if err != nil {
		return nil, err
	}
	views := make([]*NodeView, len(nodes))
	for i, n := range nodes {
		views[i] = newNodeView(n)
	}
	return newList(views, len(views), page{}), nil
}
