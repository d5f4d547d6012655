package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"atrium"
	"atrium/cluster"
	"atrium/executor"
	"atrium/scheduler"
)

// admit records the scheduler's admission (pods placed, GPUs assigned,
// status EnvPreparing) and then starts the gang. Recording first means a
// crash before the start is finished by reconcile; a concurrent change (a
// stop) makes the write fail and nothing starts.
func (s *Service) admit(ctx context.Context, v *cluster.View, a scheduler.Admission, now time.Time) error {
	j := v.Jobs[a.Workload]
	if j == nil {
		return fmt.Errorf("admitted job %s is not in the view", a.Workload)
	}
	pods, group, err := s.placePods(v, j, a.Placements)
	var wait waitError
	if errors.As(err, &wait) {
		// Pods of a preempted job are still on their way out.
		code, msg := "WaitingForPreemptedPods", wait.Error()
		_, err := s.cfg.Store.UpdateJob(ctx, j.ID, j.Version, atrium.JobUpdate{ReasonCode: &code, ReasonMessage: &msg})
		return err
	}
	if err != nil {
		msg := err.Error()
		upd := status(atrium.JobFailed, "CannotPlace", msg, "Warning")
		upd.FinishedAt = ptr(&now)
		_, uerr := s.cfg.Store.UpdateJob(ctx, j.ID, j.Version, upd)
		return cmpErr(uerr, err)
	}
	if j.Kind == atrium.KindDSW {
		dswEndpoints(pods, group)
	}
	nodes := map[string]bool{}
	for _, p := range pods {
		nodes[p.Node] = true
	}
	msg := fmt.Sprintf("admitted to quota %s on %s (%s)", j.QuotaID, strings.Join(sortedKeys(nodes), ", "), group.Name)
	if len(a.Preempts) > 0 {
		msg += "; preempted " + strings.Join(a.Preempts, ", ")
	}
	upd := status(atrium.JobEnvPreparing, atrium.ReasonAdmitted, msg, "Normal")
	upd.Pods = &pods
	upd.Attempt = ptr(j.Attempt + 1)
	upd.ResourceGroupID, upd.Backend = &group.ID, &group.Backend
	upd.QueuePosition = ptr(0)
	upd.ExecutorHandle = ptr("")
	upd.OpenAllocations = allocations(j, pods, now)
	j2, err := s.cfg.Store.UpdateJob(ctx, j.ID, j.Version, upd)
	if err != nil {
		return err
	}
	ex, err := s.executorFor(group.Backend)
	if err != nil {
		return s.failStart(ctx, j2, err)
	}
	// The gang's capacity is held from now on, in this pass too.
	v.Jobs[j.ID] = j2
	return s.start(ctx, j2, ex)
}

// start launches an admitted job's gang and records the handle.
func (s *Service) start(ctx context.Context, j *atrium.Job, ex executor.Executor) error {
	t := s.task(j, ex)
	if g, err := s.cfg.Store.FindResourceGroupByID(ctx, j.ResourceGroupID); err == nil {
		t.Partition = g.Partition
		// a slurm job runs as the Unix account mapped for its creator
		var none *atrium.NoUnixAccountError
		if t.RunAs, err = atrium.ResolveUnixAccount(ctx, s.cfg.Store, g, j.WorkspaceID, j.Creator); errors.As(err, &none) {
			return s.failStart(ctx, j, err)
		} else if err != nil {
			return err
		}
	}
	if s.cfg.Mounts != nil && ex.Name() == atrium.BackendLocal {
		// Mounts are this host's paths; a Slurm node has its own.
		m, err := s.cfg.Mounts(ctx, j)
		if err != nil {
			return s.failStart(ctx, j, err)
		}
		t.Mounts = append(t.Mounts, m...)
	}
	h, err := ex.Start(ctx, t)
	if errors.Is(err, executor.ErrAlreadyStarted) {
		return nil // another pass started it; reconcile adopts it by job and attempt
	} else if err != nil {
		return s.failStart(ctx, j, err)
	}
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	upd := atrium.JobUpdate{ExecutorHandle: ptr(string(b))}
	if !ex.Capabilities().RunsImages && t.Image != atrium.HostImage {
		upd.Events = []atrium.JobEvent{{Type: "Normal", Reason: "ImageNotPulled",
			Message: fmt.Sprintf("the %s executor runs the command on the host; image %s is recorded, not pulled", ex.Name(), t.Image)}}
	}
	if _, err := s.cfg.Store.UpdateJob(ctx, j.ID, j.Version, upd); err != nil {
		// The gang runs but its handle is not recorded: reconcile recovers it
		// by job id and attempt.
		return err
	}
	return nil
}

func (s *Service) failStart(ctx context.Context, j *atrium.Job, cause error) error {
	now := s.cfg.Now()
	upd := status(atrium.JobFailed, "StartFailed", "the executor could not start the job: "+cause.Error(), "Warning")
	var pull *executor.ImagePullError
	if errors.As(cause, &pull) {
		upd = status(atrium.JobFailed, executor.ReasonImagePullFailed, pull.Error(), "Warning")
	}
	upd.FinishedAt = ptr(&now)
	upd.CloseAllocations = true
	_, err := s.cfg.Store.UpdateJob(ctx, j.ID, j.Version, upd)
	return cmpErr(err, cause)
}

// preempt stops a running victim and returns it to the queue with reason
// Preempted. The stop completes before the preemptor starts, so the two
// never share a GPU.
func (s *Service) preempt(ctx context.Context, v *cluster.View, p scheduler.Preemption, now time.Time) error {
	j := v.Jobs[p.Workload]
	if j == nil {
		return fmt.Errorf("preempted job %s is not in the view", p.Workload)
	}
	why := "a higher-priority job of the same quota"
	if p.Reason == scheduler.PreemptReclaim {
		why = "its quota was borrowing and the lender reclaimed its guarantee"
	}
	msg := fmt.Sprintf("preempted for %s: %s", p.By, why)
	upd := status(atrium.JobRestarting, atrium.ReasonPreempted, msg, "Warning")
	j2, err := s.cfg.Store.UpdateJob(ctx, j.ID, j.Version, upd)
	if err != nil {
		return err
	}
	ex, err := s.executorFor(j.Backend)
	if err != nil {
		return err
	}
	h := handleOf(j2)
	if err := ex.Stop(ctx, h, s.cfg.Grace); err != nil {
		return err // reconcile repeats the stop next pass
	}
	pods, err := ex.Inspect(ctx, h)
	if err != nil {
		return err
	}
	merged, sum := mergePods(j2.Pods, pods)
	if !sum.allDone {
		return nil
	}
	delete(v.Jobs, j.ID)
	return s.requeue(ctx, j2, merged, h, ex)
}

// placePods turns placements into pods: names, ranks (the coordinator
// role first), nodes and GPU device indices not used by any other pod on
// the node. All pods must land in one resource group.
func (s *Service) placePods(v *cluster.View, j *atrium.Job, pl []scheduler.Placement) ([]atrium.Pod, *atrium.ResourceGroup, error) {
	reqs, err := j.Request()
	if err != nil {
		return nil, nil, err
	}
	gpuOf := map[string]int64{}
	for _, r := range reqs {
		gpuOf[r.Role] = r.Vector.GPU
	}
	used := map[string]map[int]bool{}
	for _, o := range v.Jobs {
		if o.ID == j.ID || !cluster.HoldsCapacity(o.Status) {
			continue
		}
		for _, p := range o.Pods {
			if used[p.Node] == nil {
				used[p.Node] = map[int]bool{}
			}
			for _, g := range p.GPUs {
				used[p.Node][g] = true
			}
		}
	}
	var group *atrium.ResourceGroup
	pods := make([]atrium.Pod, 0, len(pl))
	for _, p := range pl {
		n := v.Nodes[p.Node]
		if n == nil {
			return nil, nil, fmt.Errorf("node %s is unknown", p.Node)
		}
		g := v.Groups[n.GroupID]
		switch {
		case g == nil:
			return nil, nil, fmt.Errorf("resource group %s of node %s is unknown", n.GroupID, n.Name)
		case group == nil:
			group = g
		case group.ID != g.ID:
			return nil, nil, fmt.Errorf("the gang would span resource groups %s and %s; give its quota one group", group.ID, g.ID)
		}
		pod := atrium.Pod{Name: cluster.PodName(p.PodSet, p.Pod), Role: p.PodSet, Status: atrium.PodPending, Node: p.Node, GPUs: []int{}}
		if used[p.Node] == nil {
			used[p.Node] = map[int]bool{}
		}
		for dev := 0; int64(len(pod.GPUs)) < gpuOf[p.PodSet]; dev++ {
			if int64(dev) >= n.Capacity.GPU {
				return nil, nil, waitError(fmt.Sprintf("node %s has no free GPU for pod %s until preempted pods end", n.Name, pod.Name))
			}
			if !used[p.Node][dev] {
				used[p.Node][dev] = true
				pod.GPUs = append(pod.GPUs, dev)
			}
		}
		pods = append(pods, pod)
	}
	// Ranks: the job type's role order (Master, Chief, Launcher, Head
	// first), then pod index.
	slices.SortStableFunc(pods, func(a, b atrium.Pod) int {
		oa, _ := atrium.RoleOrder(j.JobType, a.Role)
		ob, _ := atrium.RoleOrder(j.JobType, b.Role)
		if oa != ob {
			return oa - ob
		}
		return podIndex(a.Name) - podIndex(b.Name)
	})
	for i := range pods {
		pods[i].Rank = i
	}
	return pods, group, nil
}

// allocations opens the usage ledger's lines for an admitted gang.
func allocations(j *atrium.Job, pods []atrium.Pod, now time.Time) []atrium.Allocation {
	reqs, _ := j.Request()
	byRole := map[string]atrium.RoleRequest{}
	for _, r := range reqs {
		byRole[r.Role] = r
	}
	out := make([]atrium.Allocation, len(pods))
	for i, p := range pods {
		r := byRole[p.Role]
		out[i] = atrium.Allocation{JobID: j.ID, WorkspaceID: j.WorkspaceID, QuotaID: j.QuotaID, UserID: j.Creator, UserName: j.CreatorName,
			JobKind: j.Kind, JobType: j.JobType, Attempt: j.Attempt + 1, Pod: p.Name, Node: p.Node, GPUType: r.GPUType,
			MilliCPU: r.Vector.MilliCPU, Memory: r.Vector.Memory, GPU: r.Vector.GPU, StartedAt: now}
	}
	return out
}

// waitError: the admission must wait for pods that are still stopping.
type waitError string

func (e waitError) Error() string { return string(e) }

func podIndex(name string) int {
	i := strings.LastIndexByte(name, '-')
	n, _ := strconv.Atoi(name[i+1:])
	return n
}

// task builds the executor's view of the gang: commands, and the
// distributed-training environment of every pod.
func (s *Service) task(j *atrium.Job, ex executor.Executor) executor.Task {
	reqs, _ := j.Request() // validated at admission
	byRole := map[string]atrium.RoleRequest{}
	for _, r := range reqs {
		byRole[r.Role] = r
	}
	spec := map[string]atrium.RoleSpec{}
	for _, r := range j.Spec.JobSpecs {
		spec[r.Type] = r
	}
	masterAddr := "127.0.0.1"
	if ex.Name() != atrium.BackendLocal && len(j.Pods) > 0 {
		masterAddr = j.Pods[0].Node
	}
	t := executor.Task{JobID: j.ID, WorkspaceID: j.WorkspaceID, Attempt: j.Attempt,
		MaxRunningTime: time.Duration(j.MaxRunningTime), Image: firstImage(j)}
	// A training job's pods share an output directory that outlives them
	// (models to register with lineage back to the job), on this host.
	outDir := ""
	if j.Kind == atrium.KindDLC && s.cfg.OutputDir != "" && ex.Name() == atrium.BackendLocal {
		outDir = filepath.Join(s.cfg.OutputDir, j.ID)
		t.Mounts = append(t.Mounts, executor.Mount{Source: outDir, Target: outDir, Owned: true})
	}
	port := strconv.Itoa(freePort())
	localRank := map[string]int{}
	for _, p := range j.Pods {
		rs := spec[p.Role]
		env := map[string]string{}
		for k, v := range j.Spec.Envs {
			env[k] = v
		}
		devs := make([]string, len(p.GPUs))
		for i, g := range p.GPUs {
			devs[i] = strconv.Itoa(g)
		}
		env["RANK"] = strconv.Itoa(p.Rank)
		env["WORLD_SIZE"] = strconv.Itoa(len(j.Pods))
		env["LOCAL_RANK"] = strconv.Itoa(localRank[p.Node])
		env["MASTER_ADDR"] = masterAddr
		env["MASTER_PORT"] = port
		env["CUDA_VISIBLE_DEVICES"] = strings.Join(devs, ",")
		env["ATRIUM_JOB_ID"] = j.ID
		env["ATRIUM_WORKSPACE_ID"] = j.WorkspaceID
		env["ATRIUM_POD_NAME"] = p.Name
		env["ATRIUM_ROLE"] = p.Role
		if outDir != "" {
			env[atrium.EnvOutputDir] = outDir
		}
		localRank[p.Node]++
		cmd := rs.Command
		if cmd == "" {
			cmd = j.Spec.Command
		}
		if j.Kind == atrium.KindDSW {
			if _, port, err := net.SplitHostPort(p.Endpoint); err == nil {
				env[atrium.EnvDSWPort], env[atrium.EnvPort], env[atrium.EnvDSWHost] = port, port, "127.0.0.1"
			}
			if cmd == "" {
				cmd = s.cfg.DSWPageCommand
				// Atrium's binary is not in a container's image: such
				// executors bring their own default.
				if d, ok := ex.(interface{ DefaultDSWCommand() string }); ok {
					cmd = d.DefaultDSWCommand()
				}
			}
		}
		r := byRole[p.Role]
		t.Pods = append(t.Pods, executor.PodTask{Name: p.Name, Role: p.Role, Rank: p.Rank, Node: p.Node, GPUs: p.GPUs,
			Command: cmd, Image: rs.Image, Env: env, CPU: r.Vector.MilliCPU, Memory: r.Vector.Memory, GPU: r.Vector.GPU, GPUType: r.GPUType})
	}
	return t
}

func firstImage(j *atrium.Job) string {
	if len(j.Spec.JobSpecs) > 0 {
		return j.Spec.JobSpecs[0].Image
	}
	return ""
}

// freePort picks a TCP port for the gang's rendezvous (MASTER_PORT).
func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 29500 // PyTorch's default
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// dswEndpoints gives every pod of a DSW instance the address its server
// listens on: a free port of this host for the local backend (pods are
// processes here), the pod's node otherwise (a port free here is a guess
// there). It is recorded with the admission, before the start.
func dswEndpoints(pods []atrium.Pod, group *atrium.ResourceGroup) {
	for i := range pods {
		host := "127.0.0.1"
		if group.Backend != atrium.BackendLocal {
			host = pods[i].Node
		}
		pods[i].Endpoint = net.JoinHostPort(host, strconv.Itoa(freePort()))
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// cmpErr returns the first non-nil error.
func cmpErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
