package console

import (
	"cmp"
	"errors"
	"net/http"
	"strings"
	"time"

	"atrium"
	"atrium/httpapi"
)

// home opens the user's default workspace, or the workspace list.
func (c *Console) home(w http.ResponseWriter, r *http.Request, s *session) error {
	if d, err := s.client.GetDefaultWorkspace(r.Context()); err == nil && d.WorkspaceID != "" {
		http.Redirect(w, r, "/w/"+d.WorkspaceID, http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/workspaces", http.StatusSeeOther)
	return nil
}

// switchWorkspace is the switcher's target; it also remembers the choice
// as the default workspace.
func (c *Console) switchWorkspace(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.URL.Query().Get("ws")
	if id == "" {
		http.Redirect(w, r, "/workspaces", http.StatusSeeOther)
		return nil
	}
	// Remembering is best effort (a ResourceAdmin may open a workspace
	// they do not belong to); the workspace page itself says if it is not
	// visible.
	var pe *httpapi.ProblemError
	if _, err := s.client.SetDefaultWorkspace(r.Context(), id); err != nil && !(errors.As(err, &pe) && pe.Status < 500) {
		return err
	}
	http.Redirect(w, r, "/w/"+id, http.StatusSeeOther)
	return nil
}

type workspacesData struct {
	Items     []*atrium.Workspace
	CanCreate bool
	Form      httpapi.CreateWorkspaceRequest
}

func (c *Console) workspaces(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.showWorkspaces(w, r, s, nil, httpapi.CreateWorkspaceRequest{})
}

func (c *Console) showWorkspaces(w http.ResponseWriter, r *http.Request, s *session, formErr error, form httpapi.CreateWorkspaceRequest) error {
	v := c.newView(r, s, "Workspaces")
	v.Nav = "workspaces"
	if formErr != nil {
		if err := formError(w, v, formErr); err != nil {
			return err
		}
	}
	l, err := s.client.ListWorkspaces(r.Context(), httpapi.ListWorkspacesOptions{PageOptions: httpapi.PageOptions{PageSize: 500}})
	if err != nil {
		return err
	}
	if err := c.loadSwitcher(r, s, v); err != nil {
		return err
	}
	v.Data = &workspacesData{Items: l.Items, CanCreate: v.Can("Workspace:CreateWorkspace"), Form: form}
	c.render(w, "workspaces", v)
	return nil
}

func (c *Console) createWorkspace(w http.ResponseWriter, r *http.Request, s *session) error {
	req := httpapi.CreateWorkspaceRequest{Name: strings.TrimSpace(r.PostFormValue("name")),
		DisplayName: r.PostFormValue("displayName"), Description: r.PostFormValue("description"),
		EnvTypes: strings.Split(cmp.Or(r.PostFormValue("envTypes"), "dev,prod"), ",")}
	ws, err := s.client.CreateWorkspace(r.Context(), req)
	if err != nil {
		return c.showWorkspaces(w, r, s, err, req)
	}
	redirect(w, r, "/w/"+ws.ID, "Workspace "+ws.Name+" created; you are its owner.")
	return nil
}

type overviewData struct {
	Members []*atrium.Member
	Quotas  []*httpapi.QuotaView
	Events  []*httpapi.EventView
	ByUser  *httpapi.UsageReport
	Daily   []dayUsage
}

// dayUsage is one day of the workspace's GPU- and CPU-core-hours, by quota.
type dayUsage struct {
	Day      time.Time
	GPU, CPU map[string]float64
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request, s *session) error {
	v, err := c.wsView(r, s, "Overview", "overview")
	if err != nil {
		return err
	}
	ctx, id := r.Context(), v.WS.ID
	d := &overviewData{}
	ml, err := s.client.ListMembers(ctx, id, httpapi.ListMembersOptions{PageOptions: httpapi.PageOptions{PageSize: 500}})
	if err != nil {
		return err
	}
	d.Members = ml.Items
	ql, err := s.client.ListWorkspaceQuotas(ctx, id, false)
	if err != nil {
		return err
	}
	d.Quotas = ql.Items
	el, err := s.client.ListEvents(ctx, id, httpapi.ListEventsOptions{Limit: 10, Desc: true})
	if err != nil {
		return err
	}
	d.Events = el.Items
	// The last 7 days (today so far and six before): GPU-hours per
	// member, and per quota for each day.
	now := c.Now().UTC()
	first := now.Truncate(24*time.Hour).AddDate(0, 0, -6)
	if v.Can("Workspace:ListResources") {
		if d.ByUser, err = s.client.WorkspaceUsage(ctx, id, httpapi.UsageOptions{From: first, To: now, GroupBy: "user"}); err != nil {
			return err
		}
		for day := first; day.Before(now); day = day.Add(24 * time.Hour) {
			u, err := s.client.WorkspaceUsage(ctx, id, httpapi.UsageOptions{From: day, To: minTime(day.Add(24*time.Hour), now), GroupBy: "quota"})
			if err != nil {
				return err
			}
			du := dayUsage{Day: day, GPU: map[string]float64{}, CPU: map[string]float64{}}
			for _, it := range u.Items {
				du.GPU[it.Key], du.CPU[it.Key] = it.GPUHours, it.CPUCoreHours
			}
			d.Daily = append(d.Daily, du)
		}
	}
	v.Data = d
	c.render(w, "overview", v)
	return nil
}

type membersData struct {
	Items []*atrium.Member
	Roles []*httpapi.RoleInfo
}

func (c *Console) members(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.showMembers(w, r, s, nil)
}

func (c *Console) showMembers(w http.ResponseWriter, r *http.Request, s *session, formErr error) error {
	v, err := c.wsView(r, s, "Members", "members")
	if err != nil {
		return err
	}
	if formErr != nil {
		if err := formError(w, v, formErr); err != nil {
			return err
		}
	}
	ctx := r.Context()
	ml, err := s.client.ListMembers(ctx, v.WS.ID, httpapi.ListMembersOptions{PageOptions: httpapi.PageOptions{PageSize: 500}})
	if err != nil {
		return err
	}
	rl, err := s.client.ListRoles(ctx, v.WS.ID)
	if err != nil {
		return err
	}
	v.Data = &membersData{Items: ml.Items, Roles: rl.Items}
	c.render(w, "members", v)
	return nil
}

func (c *Console) addMember(w http.ResponseWriter, r *http.Request, s *session) error {
	p := atrium.MemberParams{UserName: strings.TrimSpace(r.PostFormValue("userName")), Roles: r.PostForm["role"]}
	if _, err := s.client.AddMembers(r.Context(), r.PathValue("ws"), p); err != nil {
		return c.showMembers(w, r, s, err)
	}
	redirect(w, r, "/w/"+r.PathValue("ws")+"/members", p.UserName+" added as "+strings.Join(p.Roles, ", ")+".")
	return nil
}

// changeRole adds (op=add) or removes (op=remove) one role of a member.
func (c *Console) changeRole(w http.ResponseWriter, r *http.Request, s *session) error {
	ws, m, role := r.PathValue("ws"), r.PathValue("member"), r.PostFormValue("role")
	var err error
	if r.PostFormValue("op") == "remove" {
		_, err = s.client.RemoveMemberRole(r.Context(), ws, m, role)
	} else {
		_, err = s.client.AddMemberRole(r.Context(), ws, m, role)
	}
	if err != nil {
		return c.showMembers(w, r, s, err)
	}
	redirect(w, r, "/w/"+ws+"/members", "Roles updated.")
	return nil
}

func (c *Console) removeMember(w http.ResponseWriter, r *http.Request, s *session) error {
	ws := r.PathValue("ws")
	if err := s.client.DeleteMember(r.Context(), ws, r.PathValue("member")); err != nil {
		return c.showMembers(w, r, s, err)
	}
	redirect(w, r, "/w/"+ws+"/members", "Member removed.")
	return nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
