package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jml-sync/docusign-worker/events"
	"github.com/jml-sync/docusign-worker/jobs"
)

// Kinds of dead letters.
const (
	kindTask   = "task"
	kindIntake = "intake"
)

// intakeIDPrefix starts the id of an intake dead letter: intake-<stream seq>.
const intakeIDPrefix = "intake-"

// deadEntry is one dead letter as the CLI shows it: an archived task (its
// latest record) or an invalid event.
type deadEntry struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	Seq        uint64    `json:"stream_seq"`
	Subject    string    `json:"subject"`
	Time       time.Time `json:"time"`
	Reason     string    `json:"reason"`
	Queue      string    `json:"queue,omitempty"`
	Type       string    `json:"type,omitempty"`
	EmployeeID string    `json:"employee_id,omitempty"`
	EventID    string    `json:"event_id,omitempty"`
	Attempts   int       `json:"attempts"`
	Error      string    `json:"error,omitempty"`
	// Records counts the records of an archived task (it may have been
	// archived, replayed and archived again).
	Records int `json:"records,omitempty"`

	Task   *jobs.DeadLetter `json:"task,omitempty"`
	Header nats.Header      `json:"header,omitempty"`
	Data   json.RawMessage  `json:"data,omitempty"`
	Raw    string           `json:"raw,omitempty"`
}

// deadFilter selects dead letters.
type deadFilter struct {
	kind, reason, queue string
	since, until        time.Time
}

func (f deadFilter) match(d *deadEntry) bool {
	switch {
	case f.kind != "" && d.Kind != f.kind,
		f.reason != "" && d.Reason != f.reason,
		f.queue != "" && d.Queue != f.queue,
		!f.since.IsZero() && d.Time.Before(f.since),
		!f.until.IsZero() && d.Time.After(f.until):
		return false
	}
	return true
}

// runDead is `enqueue dead list|show|replay`.
func runDead(ctx context.Context, e *env, args []string) error {
	usage := "Usage: enqueue dead list [filters] [--json] | show ID | replay ID [--edit] [--force] | replay --all [filters]"
	if len(args) == 0 {
		fmt.Fprintln(e.s.err, usage)
		return usageErr("name a sub-command: list, show or replay")
	}
	sub := args[0]
	fs := e.flags("dead "+sub, sub == "replay", true)
	var f deadFilter
	fs.StringVar(&f.kind, "kind", "", "task (archived tasks) or intake (invalid events)")
	fs.StringVar(&f.reason, "reason", "", "only this reason code (e.g. unknown_group, retry_limit_exhausted, missing_field)")
	fs.StringVar(&f.queue, "queue", "", "only archived tasks of this queue")
	since := fs.String("since", "", "only dead letters since this time: RFC 3339, or a duration ago such as 24h")
	until := fs.String("until", "", "only dead letters until this time: RFC 3339, or a duration ago")
	asJSON := fs.Bool("json", false, "list, show: print JSON")
	all := fs.Bool("all", false, "replay: every dead letter matching the filters")
	edit := fs.Bool("edit", false, "replay an intake dead letter: edit the event in $EDITOR first")
	force := fs.Bool("force", false, "replay an intake dead letter even if it is still invalid")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), usage)
		fs.PrintDefaults()
	}
	if sub == "-h" || sub == "--help" {
		fs.Usage()
		return flag.ErrHelp
	}
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if f.since, err = parseWhen(*since, "--since"); err != nil {
		return err
	}
	if f.until, err = parseWhen(*until, "--until"); err != nil {
		return err
	}
	if f.kind != "" && f.kind != kindTask && f.kind != kindIntake {
		return usageErr("--kind %q: use task or intake", f.kind)
	}
	switch sub {
	case "list":
		if len(pos) > 0 {
			return usageErr("list takes no arguments (filters are flags)")
		}
		return deadList(ctx, e, f, *asJSON)
	case "show":
		if len(pos) != 1 {
			return usageErr("show takes one dead-letter id (see enqueue dead list)")
		}
		return deadShow(ctx, e, pos[0], *asJSON)
	case "replay":
		switch {
		case *all && len(pos) > 0:
			return usageErr("give an id or --all, not both")
		case *all && *edit:
			return usageErr("--edit replays one intake dead letter at a time")
		case *all:
			return deadReplayAll(ctx, e, f, *force)
		case len(pos) != 1:
			return usageErr("replay takes one dead-letter id, or --all with filters")
		}
		return deadReplayOne(ctx, e, pos[0], *edit, *force)
	}
	return usageErr("unknown sub-command %q: use list, show or replay", sub)
}

// parseWhen reads an RFC 3339 time or a duration ago.
func parseWhen(v, flagName string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, usageErr("%s %q: write an RFC 3339 time (2026-12-01T09:00:00Z) or a duration ago (24h)", flagName, v)
	}
	return t, nil
}

// deadStream opens the dead-letter stream.
func deadStream(ctx context.Context, e *env) (jetstream.Stream, error) {
	js, err := e.jetStream()
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	s, err := js.Stream(sctx, e.deadLetterStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, notFound("no stream %s: has the worker started against this NATS? (--deadletter-stream, WORKER_DEADLETTER_STREAM)",
			e.deadLetterStream)
	}
	if err != nil {
		return nil, unreachable(fmt.Errorf("stream %s: %w", e.deadLetterStream, err))
	}
	return s, nil
}

// readDead reads every dead letter (the latest record of each archived task)
// in stream order.
func readDead(ctx context.Context, e *env, s jetstream.Stream, since time.Time) ([]*deadEntry, error) {
	if s.CachedInfo().State.Msgs == 0 {
		return nil, nil
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{e.deadLetterPx + ".>"}}
	if !since.IsZero() {
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	cons, err := s.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", e.deadLetterStream, err)
	}
	var out []*deadEntry
	tasks := map[string]*deadEntry{}
	for {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", e.deadLetterStream, err)
		}
		n, last := 0, false
		for m := range batch.Messages() {
			n++
			md, err := m.Metadata()
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", e.deadLetterStream, err)
			}
			last = md.NumPending == 0
			d := e.parseDead(m.Subject(), m.Headers(), m.Data(), md.Sequence.Stream, md.Timestamp)
			if d.Kind == kindTask {
				if prev, ok := tasks[d.ID]; ok {
					d.Records = prev.Records + 1
					*prev = *d // the latest record of the task, at the place of the first
					continue
				}
				d.Records = 1
				tasks[d.ID] = d
			}
			out = append(out, d)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, fmt.Errorf("read %s: %w", e.deadLetterStream, err)
		}
		if n == 0 || last {
			return out, nil
		}
	}
}

// parseDead turns a stream message into a dead letter.
func (e *env) parseDead(subject string, h nats.Header, data []byte, seq uint64, stored time.Time) *deadEntry {
	d := &deadEntry{Seq: seq, Subject: subject, Time: stored.UTC()}
	if strings.HasPrefix(subject, e.deadLetterPx+".task.") {
		var dl jobs.DeadLetter
		if err := json.Unmarshal(data, &dl); err == nil && dl.TaskID != "" {
			d.Kind, d.ID, d.Task = kindTask, dl.TaskID, &dl
			d.Reason, d.Queue, d.Type, d.EmployeeID, d.EventID = dl.Reason, dl.Queue, dl.TaskType, dl.EmployeeID, dl.EventID
			d.Attempts, d.Error = dl.Retried+1, dl.Error
			if !dl.FailedAt.IsZero() {
				d.Time = dl.FailedAt
			}
			return d
		}
		d.Kind, d.ID, d.Reason, d.Raw = kindTask, "record-"+strconv.FormatUint(seq, 10), "unreadable_record", string(data)
		return d
	}
	d.Kind, d.ID, d.Header = kindIntake, intakeIDPrefix+strconv.FormatUint(seq, 10), h
	d.Reason, d.Error = h.Get(events.HeaderReason), h.Get(events.HeaderMessage)
	d.Attempts, _ = strconv.Atoi(h.Get(events.HeaderDeliveries))
	if t, err := time.Parse(time.RFC3339Nano, h.Get(events.HeaderTime)); err == nil {
		d.Time = t.UTC()
	}
	var head struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Subject string `json:"subject"`
	}
	if json.Valid(data) {
		d.Data = append(json.RawMessage(nil), data...)
		_ = json.Unmarshal(data, &head)
	} else {
		d.Raw = string(data)
	}
	d.Type, d.EmployeeID, d.EventID = firstOf(head.Type, h.Get("ce-type")), firstOf(head.Subject, h.Get("ce-subject")),
		firstOf(head.ID, h.Get("ce-id"))
	return d
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// matchingDead opens the dead-letter stream and returns the dead letters f selects.
func matchingDead(ctx context.Context, e *env, f deadFilter) (jetstream.Stream, []*deadEntry, error) {
	s, err := deadStream(ctx, e)
	if err != nil {
		return nil, nil, err
	}
	all, err := readDead(ctx, e, s, time.Time{})
	if err != nil {
		return nil, nil, err
	}
	var out []*deadEntry
	for _, d := range all {
		if f.match(d) {
			out = append(out, d)
		}
	}
	return s, out, nil
}

// deadList is `dead list`.
func deadList(ctx context.Context, e *env, f deadFilter, asJSON bool) error {
	_, rows, err := matchingDead(ctx, e, f)
	if err != nil {
		return err
	}
	if asJSON {
		if rows == nil {
			rows = []*deadEntry{}
		}
		return writeJSON(e, rows)
	}
	if len(rows) == 0 {
		fmt.Fprintln(e.s.out, "no dead letters")
		return nil
	}
	tw := tabwriter.NewWriter(e.s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tREASON\tQUEUE\tTYPE\tEMPLOYEE\tATTEMPTS\tSINCE\tERROR")
	for _, d := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", shortID(d.ID), d.Kind, d.Reason, orDash(d.Queue), orDash(d.Type),
			orDash(d.EmployeeID), d.Attempts, d.Time.Format(time.RFC3339), clip(d.Error, 70))
	}
	if err := tw.Flush(); err != nil {
		return err //nolint:wrapcheck // stdout
	}
	fmt.Fprintf(e.s.out, "%d dead letters (ids may be shortened to any unique prefix)\n", len(rows))
	return nil
}

// shortID shortens a task id for the table; any unique prefix of 8 or more
// characters is accepted back.
func shortID(id string) string {
	if len(id) > 16 && !strings.HasPrefix(id, intakeIDPrefix) {
		return id[:16]
	}
	return id
}

func clip(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > n {
		return s[:n-1] + "…"
	}
	return s
}

func writeJSON(e *env, v any) error {
	enc := json.NewEncoder(e.s.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v) //nolint:wrapcheck // stdout
}

// findDead finds a dead letter by id or unique id prefix (8+ characters).
func findDead(ctx context.Context, e *env, s jetstream.Stream, id string) (*deadEntry, error) {
	if strings.HasPrefix(id, intakeIDPrefix) {
		seq, err := strconv.ParseUint(strings.TrimPrefix(id, intakeIDPrefix), 10, 64)
		if err != nil {
			return nil, usageErr("%q is not a dead-letter id: intake ids look like intake-42", id)
		}
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, notFound("no dead letter %s (replayed or expired?)", id)
		}
		if err != nil {
			return nil, fmt.Errorf("get %s: %w", id, err)
		}
		d := e.parseDead(m.Subject, m.Header, m.Data, m.Sequence, m.Time)
		if d.Kind != kindIntake {
			return nil, notFound("no intake dead letter %s", id)
		}
		return d, nil
	}
	if len(id) < 8 {
		return nil, usageErr("id %q is too short: give at least 8 characters of a task id", id)
	}
	all, err := readDead(ctx, e, s, time.Time{})
	if err != nil {
		return nil, err
	}
	var found []*deadEntry
	for _, d := range all {
		if d.Kind == kindTask && strings.HasPrefix(d.ID, id) {
			found = append(found, d)
		}
	}
	switch len(found) {
	case 0:
		return nil, notFound("no dead letter with id %s (replayed, expired, or never archived?)", id)
	case 1:
		return found[0], nil
	}
	return nil, usageErr("id prefix %s matches %d dead letters: give more characters", id, len(found))
}

// deadShow is `dead show ID`.
func deadShow(ctx context.Context, e *env, id string, asJSON bool) error {
	s, err := deadStream(ctx, e)
	if err != nil {
		return err
	}
	d, err := findDead(ctx, e, s, id)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(e, d)
	}
	w := e.s.out
	fmt.Fprintf(w, "id:          %s\nkind:        %s\nreason:      %s\nsince:       %s\nattempts:    %d\n", d.ID, d.Kind,
		d.Reason, d.Time.Format(time.RFC3339), d.Attempts)
	if d.Task != nil {
		t := d.Task
		fmt.Fprintf(w, "task type:   %s\nqueue:       %s\nemployee:    %s\nevent:       %s (%s)\nreplays:     %d\nrecords:     %d\n",
			t.TaskType, t.Queue, orDash(t.EmployeeID), orDash(t.EventID), orDash(t.EventSource), t.Replays, d.Records)
		fmt.Fprintf(w, "docusign:    %s %s (trace token %s)\nrecorded by: %s at %s\nerror:       %s\npayload:\n",
			orDash(t.DocuSignErrorCode), t.DocuSignMessage, orDash(t.TraceToken), t.RecordedBy,
			t.RecordedAt.Format(time.RFC3339), t.Error)
		printIndented(e, t.Payload, "")
		return nil
	}
	fmt.Fprintf(w, "subject:     %s\nevent:       %s %s\nemployee:    %s\nproblem:     %s\nheaders:\n",
		d.Header.Get(events.HeaderSubject), orDash(d.EventID), orDash(d.Type), orDash(d.EmployeeID), d.Error)
	keys := make([]string, 0, len(d.Header))
	for k := range d.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %s: %s\n", k, strings.Join(d.Header[k], ", "))
	}
	fmt.Fprintln(w, "event:")
	printIndented(e, d.Data, d.Raw)
	return nil
}

func printIndented(e *env, data json.RawMessage, raw string) {
	var buf bytes.Buffer
	if len(data) > 0 && json.Indent(&buf, data, "  ", "  ") == nil {
		fmt.Fprintf(e.s.out, "  %s\n", buf.String())
		return
	}
	fmt.Fprintf(e.s.out, "  %s\n", firstOf(raw, string(data)))
}

// replayCounts sums up replays.
type replayCounts struct{ replayed, already, skipped, failed int }

// deadReplayOne is `dead replay ID`.
func deadReplayOne(ctx context.Context, e *env, id string, edit, force bool) error {
	s, err := deadStream(ctx, e)
	if err != nil {
		return err
	}
	d, err := findDead(ctx, e, s, id)
	if err != nil {
		return err
	}
	if edit && d.Kind != kindIntake {
		return usageErr("--edit applies to intake dead letters (raw events); %s is an archived task", d.ID)
	}
	out, err := replay(ctx, e, s, d, edit, force)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.s.out, "%s: %s\n", d.ID, out)
	return nil
}

// deadReplayAll is `dead replay --all`.
func deadReplayAll(ctx context.Context, e *env, f deadFilter, force bool) error {
	s, todo, err := matchingDead(ctx, e, f)
	if err != nil {
		return err
	}
	bar := newProgress(e.s.err, "replaying", len(todo))
	var c replayCounts
	var problems []string
	for _, d := range todo {
		if ctx.Err() != nil {
			break
		}
		out, err := replay(ctx, e, s, d, false, force)
		switch {
		case err != nil && strings.HasPrefix(out, "skipped"):
			c.skipped++
			problems = append(problems, fmt.Sprintf("%s: %s: %v", d.ID, out, err))
		case err != nil:
			c.failed++
			problems = append(problems, fmt.Sprintf("%s: %v", d.ID, err))
		case out == jobs.ReplayAlreadyQueued:
			c.already++
		default:
			c.replayed++
		}
		bar.add(1)
	}
	bar.finish()
	for _, p := range problems {
		fmt.Fprintln(e.s.err, "  "+p)
	}
	fmt.Fprintf(e.s.out, "%d dead letters: %d replayed, %d already replayed, %d skipped (still invalid: fix and replay with --edit, or --force), %d failed\n",
		len(todo), c.replayed, c.already, c.skipped, c.failed)
	if ctx.Err() != nil {
		return failed("interrupted: %w", ctx.Err())
	}
	if c.failed > 0 {
		return failed("%d replays failed", c.failed)
	}
	return nil
}

// replay replays one dead letter and removes it from the dead-letter stream.
func replay(ctx context.Context, e *env, s jetstream.Stream, d *deadEntry, edit, force bool) (string, error) {
	if d.Kind == kindTask {
		return replayTask(ctx, e, s, d)
	}
	return replayIntake(ctx, e, s, d, edit, force)
}

// replayTask deletes the archived task and enqueues it again from its record
// with a fresh retry count, then purges the task's records.
func replayTask(ctx context.Context, e *env, s jetstream.Stream, d *deadEntry) (string, error) {
	if d.Task == nil {
		return "", failed("record %s does not decode: inspect it with `enqueue dead show %s --json`", d.ID, d.ID)
	}
	if _, err := e.redis(ctx); err != nil {
		return "", err
	}
	out, err := jobs.ReplayDeadLetter(ctx, e.insp, asynq.NewClientFromRedisClient(e.rdb), *d.Task,
		jobs.TaskOptions{Retention: e.retention})
	if err != nil {
		return "", err //nolint:wrapcheck // prefixed by jobs
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(d.Subject)); err != nil {
		return out, fmt.Errorf("%s, but its record stays in %s (replaying again is harmless): %w", out, e.deadLetterStream, err)
	}
	return out, nil
}

// replayIntake republishes an invalid event to its HR subject, optionally
// after an edit, then deletes the dead letter.
func replayIntake(ctx context.Context, e *env, s jetstream.Stream, d *deadEntry, edit, force bool) (string, error) {
	raw, err := s.GetMsg(ctx, d.Seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return "", notFound("no dead letter %s (already replayed?)", d.ID)
	}
	if err != nil {
		return "", fmt.Errorf("get %s: %w", d.ID, err)
	}
	msg, err := events.OriginalMsg(raw)
	if err != nil {
		return "", failed("%s: %w", d.ID, err)
	}
	if edit {
		if msg.Data, err = editInEditor(e, msg.Data); err != nil {
			return "", err
		}
	}
	dec, err := events.NewDecoder(0)
	if err != nil {
		return "", err //nolint:wrapcheck // prefixed by events
	}
	if _, verr := dec.Decode(msg.Header, msg.Data); verr != nil && !force {
		return "skipped", failed("the event is still invalid: %v (fix it with --edit, or send it anyway with --force)", verr)
	}
	js, err := e.jetStream()
	if err != nil {
		return "", err
	}
	sum := events.PublishMsgID(d.ID, string(msg.Data))
	if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID("replay:"+d.ID+":"+sum)); err != nil {
		return "", failed("republish %s to %s: %w", d.ID, msg.Subject, err)
	}
	if err := s.DeleteMsg(ctx, d.Seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return "republished", fmt.Errorf("republished to %s, but the dead letter stays (replaying again is deduplicated "+
			"for the stream's duplicates window): %w", msg.Subject, err)
	}
	return "republished to " + msg.Subject, nil
}

// editInEditor opens data (indented when it is JSON) in $EDITOR and returns
// the edited content.
func editInEditor(e *env, data []byte) ([]byte, error) {
	editor := e.setting("EDITOR", e.setting("VISUAL", "vi"))
	dir, err := os.MkdirTemp("", "enqueue-edit-")
	if err != nil {
		return nil, fmt.Errorf("edit: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "event.json")
	var buf bytes.Buffer
	if json.Indent(&buf, data, "", "  ") != nil {
		buf.Reset()
		buf.Write(data)
	}
	buf.WriteByte('\n')
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		return nil, fmt.Errorf("edit: %w", err)
	}
	cmd := exec.Command("/bin/sh", "-c", editor+` "$1"`, "editor", path) //nolint:gosec // the operator's own $EDITOR
	cmd.Stdin, cmd.Stdout, cmd.Stderr = e.s.in, e.s.out, e.s.err
	if err := cmd.Run(); err != nil {
		return nil, failed("editor %q: %w (nothing was replayed)", editor, err)
	}
	edited, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("edit: %w", err)
	}
	edited = bytes.TrimSpace(edited)
	if json.Valid(edited) {
		var c bytes.Buffer
		if json.Compact(&c, edited) == nil {
			edited = c.Bytes()
		}
	}
	return edited, nil
}
