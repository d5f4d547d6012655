package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"atrium"
)

// The outbox events the store writes itself, in the transaction of the
// change they describe (job and DSW status, membership): no change commits
// without its event, and no event without its change.
//
// Times: an event's Time is the transaction's clock (tx.now). A job's
// events are written while its row is locked (PostgreSQL) or under SQLite's
// single writer, so they commit in seq order; and each takes at least the
// job's previous UpdatedAt (the clock of the write before it), so a job's
// events' times never decrease in seq order even if transactions began out
// of order or the clock stepped back.

// eventActor names who made the change: the API caller, or "system" for
// the scheduler and other background writers.
func eventActor(ctx context.Context) string {
	if a := atrium.AuditFrom(ctx); a != nil && a.ActorName != "" {
		return a.ActorName
	}
	return "system"
}

// jobEventData is the data of job and DSW status events.
type jobEventData struct {
	JobID         string `json:"jobId"`
	DisplayName   string `json:"displayName"`
	JobType       string `json:"jobType"`
	Kind          string `json:"kind"`
	From          string `json:"from"`
	To            string `json:"to"`
	ReasonCode    string `json:"reasonCode"`
	ReasonMessage string `json:"reasonMessage"`
	Creator       string `json:"creator"`
	Accessibility string `json:"accessibility"`
	Attempt       int    `json:"attempt"`
	Actor         string `json:"actor"`
}

// insertJobStatusEvents writes the outbox events of j's move from status
// from to j.Status: the kind's status-changed event, plus dlc.job.timeout
// or dlc.job.preempted when the reason says so.
func insertJobStatusEvents(ctx context.Context, tx *txn, j *atrium.Job, from string, notBefore time.Time) error {
	typ, coll := atrium.EventJobStatusChanged, "jobs"
	switch j.Kind {
	case atrium.KindDSW:
		typ, coll = atrium.EventDSWStatusChanged, "dsw-instances"
	case atrium.KindSQL: // SQL jobs share the job event types (data.kind says SQL)
		coll = "sql-jobs"
	}
	types := []string{typ}
	switch j.ReasonCode {
	case atrium.ReasonMaxRunningTimeExceeded, atrium.ReasonQueueTimeout:
		types = append(types, atrium.EventJobTimeout)
	case atrium.ReasonPreempted:
		types = append(types, atrium.EventJobPreempted)
	}
	data, err := json.Marshal(jobEventData{
		JobID: j.ID, DisplayName: j.DisplayName, JobType: j.JobType, Kind: j.Kind, From: from, To: j.Status,
		ReasonCode: j.ReasonCode, ReasonMessage: j.ReasonMessage, Creator: j.Creator,
		Accessibility: j.Accessibility, Attempt: j.Attempt, Actor: eventActor(ctx),
	})
	if err != nil {
		return fmt.Errorf("job event data: %w", err)
	}
	at := tx.now
	if at.Before(notBefore) {
		at = notBefore
	}
	for _, t := range types {
		e := &atrium.Event{Type: t, Source: "/workspaces/" + j.WorkspaceID + "/" + coll + "/" + j.ID,
			Subject: j.ID, Time: at, WorkspaceID: j.WorkspaceID, Data: data}
		if err := insertEvent(ctx, tx, e); err != nil {
			return err
		}
	}
	return nil
}

// Member event actions.
const (
	memberAdded       = "added"
	memberRemoved     = "removed"
	memberRoleAdded   = "roleAdded"
	memberRoleRemoved = "roleRemoved"
)

type memberEventData struct {
	MemberID string   `json:"memberId"`
	UserID   string   `json:"userId"`
	UserName string   `json:"userName"`
	Action   string   `json:"action"`
	Role     string   `json:"role,omitempty"`  // roleAdded, roleRemoved
	Roles    []string `json:"roles,omitempty"` // added, removed: the member's roles
	Actor    string   `json:"actor"`
}

// insertMemberEvent writes a workspace.member.changed event for m.
func insertMemberEvent(ctx context.Context, tx *txn, workspaceID string, m *atrium.Member, action, role string) error {
	d := memberEventData{MemberID: m.ID, UserID: m.UserID, UserName: m.UserName, Action: action, Actor: eventActor(ctx)}
	if role != "" {
		d.Role = role
	} else {
		d.Roles = m.Roles
	}
	data, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("member event data: %w", err)
	}
	return insertEvent(ctx, tx, &atrium.Event{Type: atrium.EventWorkspaceMemberChange,
		Source: "/workspaces/" + workspaceID + "/members/" + m.ID, Subject: m.ID,
		WorkspaceID: workspaceID, Data: data})
}
