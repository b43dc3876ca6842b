package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats.go"

	"github.com/jml-sync/docusign-worker/events"
	"github.com/jml-sync/docusign-worker/jobs"
)

// employeeActions maps the sub-command to the HR event type whose task it
// enqueues.
var employeeActions = map[string]string{ //nolint:gochecknoglobals // constant table
	"create": events.TypeJoined,
	"update": events.TypeUpdated,
	"close":  events.TypeLeft,
}

// multiFlag is a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// runEmployee is `enqueue employee create|update|close`: it builds the HR
// event an HR system would have sent, validates it with the worker's own
// decoder, and enqueues its task directly (no NATS), as the worker's intake
// would. The event takes effect now (or at --effective-at): an older HR event
// of the employee arriving later is skipped as stale.
func runEmployee(ctx context.Context, e *env, args []string) error {
	fs := e.flags("employee", true, false)
	var spec employeeSpec
	spec.register(fs)
	queue := fs.String("queue", "", "queue (default: by action: close → critical, else default)")
	wait := fs.Bool("wait", false, "wait for the task's outcome and print it")
	waitTimeout := fs.Duration("wait-timeout", 2*time.Minute, "longest --wait")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: enqueue employee create|update|close --id ID [flags]")
		fs.PrintDefaults()
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fs.Usage()
			return flag.ErrHelp
		}
		fs.Usage()
		return usageErr("name the action: create, update or close")
	}
	evType, ok := employeeActions[args[0]]
	if !ok {
		return usageErr("unknown action %q: use create, update or close", args[0])
	}
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("unexpected arguments %v", pos)
	}
	ev, err := spec.event(fs, evType, e.setting("WORKER_RULES_FILE", "") != "")
	if err != nil {
		return err
	}

	if _, err := e.redis(ctx); err != nil {
		return err
	}
	limit, err := strconv.Atoi(e.setting("WORKER_RETRY_LIMIT", strconv.Itoa(jobs.DefaultRetryLimit)))
	if err != nil || limit < 0 {
		limit = jobs.DefaultRetryLimit
	}
	task, err := ev.Task(jobs.TaskOptions{Retention: e.retention, Queue: *queue, MaxRetry: jobs.MaxRetryFor(limit)})
	if err != nil {
		return usageErr("%w", err)
	}
	taskID := jobs.TaskID(ev.Source, ev.ID, task.Type())
	q := *queue
	if q == "" {
		q = jobs.QueueFor(task.Type())
	}
	client := asynq.NewClientFromRedisClient(e.rdb)
	info, err := client.EnqueueContext(ctx, task)
	switch {
	case errors.Is(err, asynq.ErrTaskIDConflict):
		fmt.Fprintf(e.s.out, "task %s (%s, queue %s) was already enqueued\n", taskID, task.Type(), q)
	case err != nil:
		return failed("enqueue: %w", err)
	default:
		fmt.Fprintf(e.s.out, "enqueued %s task %s on queue %s (%s)\n", task.Type(), info.ID, info.Queue, info.State)
	}
	if !*wait {
		return nil
	}
	return waitTask(ctx, e, q, taskID, *waitTimeout)
}

// employeeSpec is an employee record given by flags (and a file), turned
// into the HR event an HR system would send.
type employeeSpec struct {
	d                     events.Data
	accounts, attributes  multiFlag
	file                  *string
	eventID, source, when *string
}

func (sp *employeeSpec) register(fs *flag.FlagSet) {
	d := &sp.d
	sp.file = fs.String("file", "", "JSON file with the employee record: the data object of an HR event (flags override its fields)")
	fs.StringVar(&d.EmployeeID, "id", "", "HR employee id (required)")
	fs.StringVar(&d.Email, "email", "", "email (joiners, movers)")
	fs.StringVar(&d.FirstName, "first-name", "", "first name (joiners, movers)")
	fs.StringVar(&d.LastName, "last-name", "", "last name (joiners, movers)")
	fs.StringVar(&d.JobTitle, "job-title", "", "job title")
	fs.StringVar(&d.Department, "department", "", "department")
	fs.StringVar(&d.Company, "company", "", "company")
	fs.StringVar(&d.Language, "language", "", "language")
	fs.StringVar(&d.Location, "location", "", "location")
	fs.StringVar(&d.EmploymentType, "employment-type", "", "employment type")
	fs.StringVar(&d.CostCenter, "cost-center", "", "cost center")
	fs.Var(&sp.attributes, "attribute", "HR attribute KEY=VALUE, repeatable")
	fs.Var(&sp.accounts, "account", "membership ACCOUNT_ID[:PROFILE_NAME[:GROUP,GROUP...]], repeatable (with a rules file: "+
		"optional); leavers: the accounts to close (default all managed)")
	sp.eventID = fs.String("event-id", "", "event id (default: generated); the task id derives from --source, --event-id and the action")
	sp.source = fs.String("source", "", "event source (default enqueue://USER@HOST)")
	sp.when = fs.String("effective-at", "", "RFC 3339 time the change takes effect (future: the task is scheduled)")
}

// event builds and validates the event of type evType; withRules accepts
// joiners and movers without accounts (a rules file maps them).
func (sp *employeeSpec) event(fs *flag.FlagSet, evType string, withRules bool) (*events.Event, error) {
	d := sp.d
	if *sp.file != "" {
		if err := mergeFile(&d, *sp.file, fs); err != nil {
			return nil, err
		}
	}
	if err := parseMemberships(&d, sp.accounts); err != nil {
		return nil, err
	}
	for _, kv := range sp.attributes {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageErr("--attribute %q: write KEY=VALUE", kv)
		}
		if d.Attributes == nil {
			d.Attributes = map[string]string{}
		}
		d.Attributes[k] = v
	}
	if *sp.when != "" {
		t, err := time.Parse(time.RFC3339, *sp.when)
		if err != nil {
			return nil, usageErr("--effective-at %q: write an RFC 3339 time such as 2026-12-01T09:00:00Z", *sp.when)
		}
		d.EffectiveAt = t.UTC()
	}
	id, source := *sp.eventID, *sp.source
	if id == "" {
		id = "enqueue-" + randomHex(8)
	}
	if source == "" {
		source = defaultSource()
	}
	return validateEvent(&events.Event{ID: id, Source: source, Type: evType, Subject: d.EmployeeID,
		Time: time.Now().UTC().Truncate(time.Millisecond), DataContentType: "application/json", Data: d}, withRules)
}

// mergeFile reads the employee record from a JSON file; flags given on the
// command line win over its fields.
func mergeFile(d *events.Data, path string, fs *flag.FlagSet) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return usageErr("--file: %w", err)
	}
	var fromFile events.Data
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fromFile); err != nil {
		return usageErr("--file %s: %v (it holds the data object of an HR event: employee_id, email, first_name, ..., accounts)", path, err)
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	set := func(name string, dst *string, v string) {
		if !given[name] {
			*dst = v
		}
	}
	set("id", &d.EmployeeID, fromFile.EmployeeID)
	set("email", &d.Email, fromFile.Email)
	set("first-name", &d.FirstName, fromFile.FirstName)
	set("last-name", &d.LastName, fromFile.LastName)
	set("job-title", &d.JobTitle, fromFile.JobTitle)
	set("department", &d.Department, fromFile.Department)
	set("company", &d.Company, fromFile.Company)
	set("language", &d.Language, fromFile.Language)
	set("location", &d.Location, fromFile.Location)
	set("employment-type", &d.EmploymentType, fromFile.EmploymentType)
	set("cost-center", &d.CostCenter, fromFile.CostCenter)
	d.Attributes, d.Accounts, d.EffectiveAt = fromFile.Attributes, fromFile.Accounts, fromFile.EffectiveAt
	return nil
}

// parseMemberships adds the --account flags: ACCOUNT[:PROFILE[:GROUP,...]].
func parseMemberships(d *events.Data, specs []string) error {
	for _, spec := range specs {
		parts := strings.SplitN(spec, ":", 3)
		m := jobs.Membership{AccountID: strings.TrimSpace(parts[0])}
		if m.AccountID == "" {
			return usageErr("--account %q: write ACCOUNT_ID[:PROFILE_NAME[:GROUP,GROUP]]", spec)
		}
		if len(parts) > 1 {
			m.PermissionProfile = strings.TrimSpace(parts[1])
		}
		if len(parts) > 2 {
			for _, g := range strings.Split(parts[2], ",") {
				if g = strings.TrimSpace(g); g != "" {
					m.Groups = append(m.Groups, g)
				}
			}
		}
		d.Accounts = append(d.Accounts, m)
	}
	return nil
}

// validateEvent runs the event through the worker's decoder (JSON Schema and
// contract rules), so the CLI refuses exactly what the intake would
// dead-letter, with the same message.
func validateEvent(ev *events.Event, withRules bool) (*events.Event, error) {
	body, err := ev.Encode()
	if err != nil {
		return nil, usageErr("%w", err)
	}
	var opts []events.DecoderOption
	if withRules {
		opts = append(opts, events.WithRules())
	}
	dec, err := events.NewDecoder(0, opts...)
	if err != nil {
		return nil, err //nolint:wrapcheck // prefixed by events
	}
	h := nats.Header{}
	h.Set("Content-Type", events.ContentTypeStructured)
	out, err := dec.Decode(h, body)
	if err != nil {
		var de *events.DecodeError
		if errors.As(err, &de) {
			return nil, usageErr("invalid employee record (%s): %s", de.Reason, de.Message)
		}
		return nil, usageErr("%w", err)
	}
	return out, nil
}

// waitTask polls the task until it completes or is archived, and prints the
// outcome. A scheduled task (future effective time) is reported as such.
func waitTask(ctx context.Context, e *env, queue, id string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		info, err := e.insp.GetTaskInfo(queue, id)
		switch {
		case errors.Is(err, asynq.ErrTaskNotFound):
			return notFound("task %s is no longer in queue %s (deleted, or a cancellation removed it)", id, queue)
		case err != nil:
			return fmt.Errorf("task %s: %w", id, err)
		}
		switch info.State {
		case asynq.TaskStateCompleted:
			var r jobs.TaskResult
			if json.Unmarshal(info.Result, &r) == nil && r.Outcome != "" {
				fmt.Fprintf(e.s.out, "completed: %s (DocuSign user %s, %d calls, %d writes)\n", r.Outcome,
					orDash(r.DocuSignUserID), r.Calls, r.Writes)
			} else {
				fmt.Fprintln(e.s.out, "completed")
			}
			return nil
		case asynq.TaskStateArchived:
			return failed("archived (dead letter; see `enqueue dead show %s`): %s", id, info.LastErr)
		case asynq.TaskStateScheduled:
			fmt.Fprintf(e.s.out, "scheduled for %s (effective date); not waiting\n", info.NextProcessAt.UTC().Format(time.RFC3339))
			return nil
		}
		select {
		case <-ctx.Done():
			return failed("no outcome within %s: the task is %s (last error: %s)", timeout, info.State, orDash(info.LastErr))
		case <-tick.C:
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// defaultSource names the operator and machine as the event's source.
func defaultSource() string {
	name := "operator"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return "enqueue://" + name + "@" + host
}
