package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/jml-sync/docusign-worker/events"
	"github.com/jml-sync/docusign-worker/internal/testenv"
	"github.com/jml-sync/docusign-worker/jobs"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// world is what one CLI test runs against: a real Redis (TEST_REDIS_URL), an
// embedded NATS server with the worker's streams, and the worker's
// environment variables pointing at them.
type world struct {
	rdb   *redis.Client
	insp  *asynq.Inspector
	js    jetstream.JetStream
	url   string // NATS
	env   map[string]string
	queue string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	rdb := testenv.RedisClient(t)
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		NoLog: true, NoSigs: true})
	require.NoError(t, err)
	go srv.Start()
	require.True(t, srv.ReadyForConnections(10*time.Second), "nats not ready")
	nc, err := nats.Connect(srv.ClientURL())
	require.NoError(t, err)
	t.Cleanup(func() {
		nc.Close()
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	require.NoError(t, events.EnsureStreams(t.Context(), js, events.Config{}))
	w := &world{rdb: rdb, insp: asynq.NewInspectorFromRedisClient(rdb), js: js, url: srv.ClientURL(),
		queue: "test-cli-" + randHex(t, 6)}
	t.Cleanup(func() { _ = w.insp.DeleteQueue(w.queue, true) })
	w.env = map[string]string{
		"WORKER_REDIS_URL":        testenv.RedisURL(t),
		"WORKER_NATS_URL":         srv.ClientURL(),
		"WORKER_REDIS_KEY_PREFIX": testenv.Prefix(t, rdb),
	}
	return w
}

func randHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// cli runs the command in-process and returns its exit code and output.
func (w *world) cli(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(t.Context(), args, func(k string) string { return w.env[k] },
		streams{in: strings.NewReader(stdin), out: &out, err: &errOut})
	return code, out.String(), errOut.String()
}

// hrEvent is a joiner event in structured mode.
func hrEvent(id, emp string) string {
	return fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"hris-test","type":"hr.employee.joined","subject":%q,`+
		`"time":"2026-11-01T09:00:00Z","data":{"employee_id":%q,"email":"%s@corp.example","first_name":"F","last_name":"L",`+
		`"accounts":[{"account_id":"acct-1","permission_profile":"DocuSign Sender"}]}}`, id, emp, emp, strings.ToLower(emp))
}

func TestUsageAndExitCodes(t *testing.T) {
	t.Parallel()
	w := &world{env: map[string]string{"WORKER_REDIS_URL": "redis://127.0.0.1:1/0", "WORKER_NATS_URL": "nats://127.0.0.1:1"}}

	code, out, _ := w.cli(t, "")
	require.Equal(t, exitUsage, code)
	require.Contains(t, out, "employee")
	code, _, errOut := w.cli(t, "", "frobnicate")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, `unknown command "frobnicate"`)
	code, _, errOut = w.cli(t, "", "employee", "hire", "--id", "E1")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "use create, update or close")
	code, _, errOut = w.cli(t, "", "employee", "create", "--id", "E1", "--first-name", "A", "--last-name", "B",
		"--account", "acct-1")
	require.Equal(t, exitUsage, code, "missing email is refused before connecting")
	require.Contains(t, errOut, "email")
	code, _, errOut = w.cli(t, "", "employee", "create", "--bogus")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "bogus")

	// Nothing listens on port 1.
	code, _, errOut = w.cli(t, "", "queue", "ls")
	require.Equal(t, exitUnreachable, code)
	require.Contains(t, errOut, "cannot reach Redis")
	code, _, errOut = w.cli(t, "", "dead", "list")
	require.Equal(t, exitUnreachable, code)
	require.Contains(t, errOut, "cannot reach NATS")
}

func TestEmployeeEnqueueAndWait(t *testing.T) {
	t.Parallel()
	w := newWorld(t)

	// A stand-in worker that completes our tasks with a result, as the jobs
	// middleware writes it.
	srv := asynq.NewServerFromRedisClient(w.rdb, asynq.Config{Queues: map[string]int{w.queue: 1},
		TaskCheckInterval: 20 * time.Millisecond, LogLevel: asynq.FatalLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc(jobs.TypeUserCreate, func(_ context.Context, t *asynq.Task) error {
		raw, _ := json.Marshal(jobs.TaskResult{Outcome: jobs.OutcomeCreated, DocuSignUserID: "u-1", Calls: 2, Writes: 1})
		_, err := t.ResultWriter().Write(raw)
		return err
	})
	require.NoError(t, srv.Start(mux))
	t.Cleanup(srv.Shutdown)

	args := []string{"employee", "create", "--id", "E7", "--email", "e7@corp.example", "--first-name", "Ada",
		"--last-name", "Lovelace", "--account", "acct-1:DocuSign Sender:Sales,Everyone", "--attribute", "level=L5",
		"--event-id", "evt-cli-1", "--source", "ops://test", "--queue", w.queue, "--wait", "--wait-timeout", "20s"}
	code, out, errOut := w.cli(t, "", args...)
	require.Equal(t, exitOK, code, errOut)
	id := jobs.TaskID("ops://test", "evt-cli-1", jobs.TypeUserCreate)
	require.Contains(t, out, "enqueued docusign:user:create task "+id)
	require.Contains(t, out, "completed: created (DocuSign user u-1, 2 calls, 1 writes)")

	info, err := w.insp.GetTaskInfo(w.queue, id)
	require.NoError(t, err)
	p, err := jobs.DecodePayload(asynq.NewTask(info.Type, info.Payload))
	require.NoError(t, err)
	require.Equal(t, "E7", p.Employee.EmployeeID)
	require.Equal(t, []jobs.Membership{{AccountID: "acct-1", PermissionProfile: "DocuSign Sender",
		Groups: []string{"Sales", "Everyone"}}}, p.Accounts)
	require.Equal(t, jobs.MaxRetryFor(jobs.DefaultRetryLimit), info.MaxRetry)

	// The same event again is recognised.
	code, out, _ = w.cli(t, "", args...)
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "was already enqueued")

	// From a file, with a flag overriding one field.
	file := filepath.Join(t.TempDir(), "e8.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"employee_id":"E8","email":"e8@corp.example","first_name":"Grace",`+
		`"last_name":"Hopper","accounts":[{"account_id":"acct-2"}]}`), 0o600))
	code, out, errOut = w.cli(t, "", "employee", "update", "--file", file, "--job-title", "Admiral", "--queue", w.queue,
		"--event-id", "evt-cli-2", "--source", "ops://test")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "enqueued docusign:membership:set")
	info, err = w.insp.GetTaskInfo(w.queue, jobs.TaskID("ops://test", "evt-cli-2", jobs.TypeMembershipSet))
	require.NoError(t, err)
	p, err = jobs.DecodePayload(asynq.NewTask(info.Type, info.Payload))
	require.NoError(t, err)
	require.Equal(t, "Admiral", p.Employee.JobTitle)
	require.Equal(t, "Grace", p.Employee.FirstName)

	// A future effective date schedules the task; --wait says so.
	code, out, errOut = w.cli(t, "", "employee", "close", "--id", "E8", "--effective-at",
		time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "--queue", w.queue, "--wait")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "scheduled for")
}

func TestPublish(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	var lines []string
	for i := range 150 {
		lines = append(lines, hrEvent(fmt.Sprintf("evt-%d", i), fmt.Sprintf("E%d", i)))
	}
	lines = append(lines, "", "this is not json", `{"id":"x"}`)
	file := filepath.Join(t.TempDir(), "events.jsonl")
	require.NoError(t, os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600))

	code, out, errOut := w.cli(t, "", "publish", "--file", file)
	require.Equal(t, exitFailed, code, "two lines were not published")
	require.Contains(t, out, "152 lines: 150 published, 0 duplicates (already in the stream), 2 skipped, 0 failed")
	require.Contains(t, errOut, "line 151: skipped: not a JSON object")
	require.Contains(t, errOut, "line 152: skipped: id, source and type are required")
	require.Contains(t, errOut, "publishing [", "progress is shown for a large file")

	hr, err := w.js.Stream(t.Context(), events.DefaultStream)
	require.NoError(t, err)
	info, err := hr.Info(t.Context())
	require.NoError(t, err)
	require.Equal(t, uint64(150), info.State.Msgs)
	m, err := hr.GetMsg(t.Context(), 1)
	require.NoError(t, err)
	require.Equal(t, "hr.employee.joined", m.Subject)
	require.Equal(t, events.PublishMsgID("hris-test", "evt-0"), m.Header.Get(jetstream.MsgIDHeader))
	require.Equal(t, events.ContentTypeStructured, m.Header.Get("Content-Type"))

	// Publishing the file again stores nothing new.
	code, out, _ = w.cli(t, "", "publish", "--file", file)
	require.Equal(t, exitFailed, code)
	require.Contains(t, out, "150 duplicates")

	// --validate skips what the worker would dead-letter; stdin works.
	bad := strings.Replace(hrEvent("evt-bad", "E900"), `"email":"e900@corp.example",`, "", 1)
	code, out, errOut = w.cli(t, hrEvent("evt-good", "E901")+"\n"+bad+"\n", "publish", "--file", "-", "--validate")
	require.Equal(t, exitFailed, code)
	require.Contains(t, out, "2 lines: 1 published")
	require.Contains(t, errOut, "email")
}

func TestQueueLsPauseResume(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	_, err := asynq.NewClientFromRedisClient(w.rdb).Enqueue(asynq.NewTask("test:noop", nil), asynq.Queue(w.queue))
	require.NoError(t, err)

	code, out, errOut := w.cli(t, "", "queue", "pause", w.queue)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "queue "+w.queue+" paused")
	info, err := w.insp.GetQueueInfo(w.queue)
	require.NoError(t, err)
	require.True(t, info.Paused)

	code, out, _ = w.cli(t, "", "queue", "ls", "--json")
	require.Equal(t, exitOK, code)
	var rows []queueRow
	require.NoError(t, json.Unmarshal([]byte(out), &rows))
	var mine *queueRow
	for i := range rows {
		if rows[i].Queue == w.queue {
			mine = &rows[i]
		}
	}
	require.NotNil(t, mine)
	require.True(t, mine.Paused)
	require.Equal(t, 1, mine.Pending)
	code, out, _ = w.cli(t, "", "queue", "ls")
	require.Equal(t, exitOK, code)
	require.Regexp(t, w.queue+`\s+true\s+1\s+0`, out)

	code, _, errOut = w.cli(t, "", "queue", "resume", w.queue)
	require.Equal(t, exitOK, code, errOut)
	info, err = w.insp.GetQueueInfo(w.queue)
	require.NoError(t, err)
	require.False(t, info.Paused)

	code, _, errOut = w.cli(t, "", "queue", "pause", "no-such-queue-"+w.queue)
	require.Equal(t, exitNotFound, code)
	require.Contains(t, errOut, "no queue")
}

// TestDeadLetters makes a real dead letter of each kind — an invalid event
// through the worker's intake and an archived task through the worker's
// dead-letter writer — then lists, shows and replays them.
func TestDeadLetters(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := t.Context()
	client := asynq.NewClientFromRedisClient(w.rdb)

	// The intake, enqueuing to the test's queue.
	consumer, err := events.New(w.js, events.Backends{Enqueuer: client, Inspector: w.insp,
		Tombstones: jobs.NewTombstones(w.rdb, w.env["WORKER_REDIS_KEY_PREFIX"]+"tombstone:"),
		Pinger:     events.PingFunc(func(ctx context.Context) error { return w.rdb.Ping(ctx).Err() }),
	}, events.Config{Queue: w.queue, Logger: zerolog.Nop()})
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = consumer.Run(runCtx)
	}()
	t.Cleanup(func() {
		_ = consumer.Stop(context.Background())
		stop()
		<-done
	})
	bad := strings.Replace(hrEvent("evt-noemail", "E50"), `"email":"e50@corp.example",`, "", 1)
	code, _, errOut := w.cli(t, bad+"\n", "publish", "--file", "-")
	require.Equal(t, exitOK, code, errOut)

	// An archived task with its record, as the worker's ErrorHandler writes it.
	p := jobs.Payload{EventSource: "hris-test", EventID: "evt-arch", EventType: events.TypeJoined, EventTime: time.Now().UTC(),
		Employee: jobs.Employee{EmployeeID: "E60", Email: "e60@corp.example"}, Accounts: []jobs.Membership{{AccountID: "acct-1"}}}
	task, err := jobs.NewTask(jobs.TypeUserCreate, p, jobs.TaskOptions{Queue: w.queue, MaxRetry: 3})
	require.NoError(t, err)
	_, err = client.Enqueue(task, asynq.ProcessIn(time.Hour))
	require.NoError(t, err)
	taskID := jobs.TaskID("hris-test", "evt-arch", jobs.TypeUserCreate)
	require.NoError(t, w.insp.ArchiveTask(w.queue, taskID))
	writer, err := jobs.NewDeadLetters(jobs.DeadLetterConfig{Publisher: w.js, Redis: w.rdb, Inspector: w.insp,
		KeyPrefix: w.env["WORKER_REDIS_KEY_PREFIX"]})
	require.NoError(t, err)
	require.NoError(t, writer.Record(ctx, jobs.NewDeadLetter(jobs.ArchivedRun{TaskID: taskID, TaskType: task.Type(),
		Queue: w.queue, Retried: 2, MaxRetry: 3, Payload: task.Payload(),
		Err: jobs.Permanent(jobs.ReasonUnknownGroup, fmt.Errorf("no group Sales"))}, time.Now())))

	var list []deadEntry
	testenv.WaitFor(t, 10*time.Second, "both dead letters listed", func() bool {
		code, out, _ := w.cli(t, "", "dead", "list", "--json")
		list = nil
		return code == exitOK && json.Unmarshal([]byte(out), &list) == nil && len(list) == 2
	})
	kinds := map[string]deadEntry{}
	for _, d := range list {
		kinds[d.Kind] = d
	}
	intake := kinds[kindIntake]
	require.Equal(t, string(events.ReasonMissingField), intake.Reason)
	require.Equal(t, "E50", intake.EmployeeID)
	require.Contains(t, intake.Error, "email")
	require.Equal(t, taskID, kinds[kindTask].ID)
	require.Equal(t, jobs.ReasonUnknownGroup, kinds[kindTask].Reason)
	require.Equal(t, w.queue, kinds[kindTask].Queue)

	// Filters and the table.
	code, out, _ := w.cli(t, "", "dead", "list", "--reason", jobs.ReasonUnknownGroup)
	require.Equal(t, exitOK, code)
	require.Contains(t, out, taskID[:16])
	require.NotContains(t, out, intake.ID)
	require.Contains(t, out, "1 dead letters")
	code, out, _ = w.cli(t, "", "dead", "list", "--kind", "intake", "--since", "1h")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, intake.ID)
	code, out, _ = w.cli(t, "", "dead", "list", "--until", "2000-01-01T00:00:00Z")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "no dead letters")

	// Show by a unique prefix; unknown ids.
	code, out, errOut = w.cli(t, "", "dead", "show", taskID[:12])
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "reason:      unknown_group")
	require.Contains(t, out, `"employee_id": "E60"`)
	code, out, _ = w.cli(t, "", "dead", "show", intake.ID)
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "Deadletter-Reason: missing_field")
	code, _, _ = w.cli(t, "", "dead", "show", "deadbeefdeadbeef")
	require.Equal(t, exitNotFound, code)

	// Replay the task: fresh retry count, the record purged; again: nothing
	// to replay.
	code, out, errOut = w.cli(t, "", "dead", "replay", taskID[:12])
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, jobs.ReplayEnqueued)
	info, err := w.insp.GetTaskInfo(w.queue, taskID)
	require.NoError(t, err)
	require.Equal(t, asynq.TaskStatePending, info.State)
	require.Zero(t, info.Retried)
	code, _, _ = w.cli(t, "", "dead", "replay", taskID)
	require.Equal(t, exitNotFound, code)

	// Replaying the invalid event unchanged is refused; with an edit that
	// adds the email, it is republished, enqueued by the intake, and gone
	// from the dead letters.
	code, out, _ = w.cli(t, "", "dead", "replay", "--all")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "1 dead letters: 0 replayed, 0 already replayed, 1 skipped")
	w.env["EDITOR"] = `sed -i 's/"first_name"/"email": "e50@corp.example", "first_name"/'`
	code, out, errOut = w.cli(t, "", "dead", "replay", intake.ID, "--edit")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "republished to hr.employee.joined")
	testenv.WaitFor(t, 10*time.Second, "the fixed event is enqueued", func() bool {
		_, err := w.insp.GetTaskInfo(w.queue, jobs.TaskID("hris-test", "evt-noemail", jobs.TypeUserCreate))
		return err == nil
	})
	code, out, _ = w.cli(t, "", "dead", "list")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "no dead letters")
}
