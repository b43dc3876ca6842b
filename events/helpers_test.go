package events_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/events"
	"github.com/jml-sync/docusign-worker/internal/testenv"
	"github.com/jml-sync/docusign-worker/jobs"
)

// runJetStream starts an embedded NATS server with JetStream on a random
// loopback port and returns a connection to it; both end with the test.
func runJetStream(tb testing.TB) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: tb.TempDir(),
		NoLog: true, NoSigs: true,
	})
	require.NoError(tb, err)
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		tb.Fatal("nats-server not ready")
	}
	tb.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	nc, err := nats.Connect(srv.ClientURL())
	require.NoError(tb, err)
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(tb, err)
	return nc, js
}

func randomHex(tb testing.TB, n int) string {
	tb.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(tb, err)
	return hex.EncodeToString(b)
}

// redisBackends are the Redis side of a test: the consumer's backends and
// handles to inspect them.
type redisBackends struct {
	rdb        *redis.Client
	client     *asynq.Client
	inspector  *asynq.Inspector
	tombstones *jobs.Tombstones
}

func newRedisBackends(tb testing.TB, rdb *redis.Client, prefix string) *redisBackends {
	tb.Helper()
	return &redisBackends{
		rdb:        rdb,
		client:     asynq.NewClientFromRedisClient(rdb),
		inspector:  asynq.NewInspectorFromRedisClient(rdb),
		tombstones: jobs.NewTombstones(rdb, prefix+"tombstone:"),
	}
}

func (r *redisBackends) backends() events.Backends {
	return events.Backends{
		Enqueuer:   r.client,
		Inspector:  r.inspector,
		Tombstones: r.tombstones,
		Pinger:     events.PingFunc(func(ctx context.Context) error { return r.rdb.Ping(ctx).Err() }),
	}
}

// uniqueQueue returns an asynq queue of this test alone, deleted at the end.
func uniqueQueue(tb testing.TB, insp *asynq.Inspector) string {
	tb.Helper()
	q := "test-events-" + randomHex(tb, 6)
	tb.Cleanup(func() { _ = insp.DeleteQueue(q, true) })
	return q
}

// bundle is one running intake under test.
type bundle struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	redis  *redisBackends
	queue  string
	source string
	cfg    events.Config
	c      *events.Consumer
}

type setupOpts struct {
	cfg      events.Config
	backends func(b events.Backends) events.Backends // wrap the real backends
	redis    *redis.Client                           // default: TEST_REDIS_URL
	// realQueues keeps the per-type queues instead of a queue of the test's own.
	realQueues bool
	// logs, when set, also receives the consumer's logs at info level and
	// above (the test output gets debug too).
	logs io.Writer
}

// setup starts a Consumer over an embedded NATS server and a real Redis,
// with a queue and an event source of the test's own. The consumer is
// stopped, and Run checked to return nil, when the test ends.
func setup(tb testing.TB, o setupOpts) *bundle {
	tb.Helper()
	nc, js := runJetStream(tb)
	rdb := o.redis
	if rdb == nil {
		rdb = testenv.RedisClient(tb)
	}
	rb := newRedisBackends(tb, rdb, testenv.Prefix(tb, rdb))
	b := &bundle{nc: nc, js: js, redis: rb, source: "hris-test-" + randomHex(tb, 6)}
	cfg := o.cfg
	if cfg.Queue == "" && !o.realQueues {
		cfg.Queue = uniqueQueue(tb, rb.inspector)
	}
	var w io.Writer = zerolog.NewTestWriter(tb)
	if o.logs != nil {
		w = zerolog.MultiLevelWriter(w, infoAndAbove{o.logs})
	}
	cfg.Logger = zerolog.New(w).Level(zerolog.DebugLevel)
	b.queue = cfg.Queue
	be := rb.backends()
	if o.backends != nil {
		be = o.backends(be)
	}
	c, err := events.New(js, be, cfg)
	require.NoError(tb, err)
	b.c, b.cfg = c, cfg
	start(tb, c)
	// The streams exist once the consumer does.
	testenv.WaitFor(tb, 10*time.Second, "consumer created", func() bool {
		_, err := js.Consumer(context.Background(), streamName(cfg), durableName(cfg))
		return err == nil
	})
	return b
}

// infoAndAbove drops debug entries.
type infoAndAbove struct{ w io.Writer }

func (f infoAndAbove) Write(p []byte) (int, error) { return f.w.Write(p) }

func (f infoAndAbove) WriteLevel(l zerolog.Level, p []byte) (int, error) {
	if l < zerolog.InfoLevel {
		return len(p), nil
	}
	return f.w.Write(p)
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// start runs c until the test ends.
func start(tb testing.TB, c *events.Consumer) {
	tb.Helper()
	var wg sync.WaitGroup
	var runErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		runErr = c.Run(context.Background())
	}()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		require.NoError(tb, c.Stop(ctx))
		wg.Wait()
		require.NoError(tb, runErr)
	})
}

func streamName(cfg events.Config) string {
	if cfg.Stream == "" {
		return events.DefaultStream
	}
	return cfg.Stream
}

func durableName(cfg events.Config) string {
	if cfg.Durable == "" {
		return events.DefaultDurable
	}
	return cfg.Durable
}

// event returns an event of the bundle's source as a JSON object.
func (b *bundle) event(id, eventType, employee string) map[string]any {
	data := map[string]any{"employee_id": employee}
	switch eventType {
	case events.TypeJoined, events.TypeUpdated:
		data["email"] = employee + "@corp.example"
		data["first_name"] = "First " + employee
		data["last_name"] = "Last " + employee
		data["accounts"] = []any{map[string]any{"account_id": "acct-1", "permission_profile": "DocuSign Sender"}}
	}
	return map[string]any{
		"specversion": "1.0", "id": id, "source": b.source, "type": eventType,
		"subject": employee, "time": "2026-11-01T09:00:00Z", "data": data,
	}
}

// publish publishes body on hr.employee.<action> with a fresh Nats-Msg-Id
// and returns its stream sequence.
func (b *bundle) publish(tb testing.TB, body []byte, h nats.Header) uint64 {
	tb.Helper()
	return b.publishID(tb, body, h, "msg-"+randomHex(tb, 8))
}

func (b *bundle) publishID(tb testing.TB, body []byte, h nats.Header, msgID string) uint64 {
	tb.Helper()
	if h == nil {
		h = nats.Header{}
	}
	ack, err := b.js.PublishMsg(context.Background(),
		&nats.Msg{Subject: "hr.employee.event", Header: h, Data: body}, jetstream.WithMsgID(msgID))
	require.NoError(tb, err)
	return ack.Sequence
}

func (b *bundle) taskInfo(tb testing.TB, queue, id, taskType string) (*asynq.TaskInfo, error) {
	tb.Helper()
	return b.redis.inspector.GetTaskInfo(queue, jobs.TaskID(b.source, id, taskType))
}

func (b *bundle) consumerInfo(tb testing.TB) *jetstream.ConsumerInfo {
	tb.Helper()
	cons, err := b.js.Consumer(context.Background(), streamName(b.cfg), durableName(b.cfg))
	require.NoError(tb, err)
	info, err := cons.Info(context.Background())
	require.NoError(tb, err)
	return info
}

// settled reports whether the consumer has delivered and acknowledged
// everything in the stream.
func (b *bundle) settled(tb testing.TB) bool {
	tb.Helper()
	info := b.consumerInfo(tb)
	return info.NumPending == 0 && info.NumAckPending == 0
}

// deadLetters returns every message in the dead-letter stream.
func deadLetters(tb testing.TB, js jetstream.JetStream) []*jetstream.RawStreamMsg {
	tb.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, events.DefaultDeadLetterStream)
	require.NoError(tb, err)
	info, err := s.Info(ctx)
	require.NoError(tb, err)
	var out []*jetstream.RawStreamMsg
	if info.State.Msgs == 0 {
		return nil
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		require.NoError(tb, err)
		out = append(out, m)
	}
	return out
}

func totalDeadLettered(s events.Stats) uint64 {
	var n uint64
	for _, v := range s.DeadLettered {
		n += v
	}
	return n
}

// redisServer is a redis-server process of the test's own, for outages.
type redisServer struct {
	port string
	dir  string
	cmd  *exec.Cmd
}

// startRedisServer starts redis-server on a free loopback port with an
// fsync-always append-only file, so that a kill loses nothing acknowledged.
func startRedisServer(tb testing.TB) *redisServer {
	tb.Helper()
	if testing.Short() {
		tb.Skip("starts a redis-server: not in -short mode")
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		testenv.SkipOrFail(tb, "redis-server is not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	require.NoError(tb, l.Close())
	r := &redisServer{port: port, dir: tb.TempDir()}
	r.start(tb)
	tb.Cleanup(func() { r.kill(tb) })
	return r
}

func (r *redisServer) addr() string { return "127.0.0.1:" + r.port }

func (r *redisServer) start(tb testing.TB) {
	tb.Helper()
	r.cmd = exec.Command("redis-server", "--port", r.port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", r.dir)
	require.NoError(tb, r.cmd.Start())
	c := redis.NewClient(&redis.Options{Addr: r.addr(), MaxRetries: -1})
	defer func() { _ = c.Close() }()
	testenv.WaitFor(tb, 10*time.Second, "redis-server on "+r.addr(), func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		return c.Ping(ctx).Err() == nil
	})
}

// kill stops the server abruptly (SIGKILL).
func (r *redisServer) kill(tb testing.TB) {
	tb.Helper()
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// failingEnqueuer fails the enqueue of chosen events and passes the others
// on; it counts the calls per TaskID.
type failingEnqueuer struct {
	next  events.Enqueuer
	fail  func(task *asynq.Task) error
	mu    sync.Mutex
	calls map[string]int
}

func (f *failingEnqueuer) EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	id := taskIDOf(task)
	f.mu.Lock()
	if f.calls == nil {
		f.calls = make(map[string]int)
	}
	f.calls[id]++
	f.mu.Unlock()
	if err := f.fail(task); err != nil {
		return nil, err
	}
	return f.next.EnqueueContext(ctx, task, opts...)
}

func (f *failingEnqueuer) callsFor(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[id]
}

// taskIDOf recovers the TaskID of a task built by jobs.NewTask.
func taskIDOf(task *asynq.Task) string {
	p, err := jobs.DecodePayload(task)
	if err != nil {
		return fmt.Sprintf("undecodable: %v", err)
	}
	return jobs.TaskID(p.EventSource, p.EventID, task.Type())
}
