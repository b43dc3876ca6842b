package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/docusign/docusignsim"
	"github.com/jml-sync/docusign-worker/events"
	"github.com/jml-sync/docusign-worker/internal/testenv"
)

// redisServer is a redis-server of the test's own, persisting every write (AOF, fsync always) so that a restart on
// the same directory keeps the queues.
type redisServer struct {
	port int
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

// startRedisServer starts redis-server on a free port with its data in a new temporary directory.
func startRedisServer(t testing.TB) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		testenv.SkipOrFail(t, "redis-server is not installed (apt-get install -y redis-server)")
	}
	s := &redisServer{port: freePort(t), dir: t.TempDir()}
	s.start(t)
	return s
}

func (s *redisServer) url() string { return "redis://127.0.0.1:" + strconv.Itoa(s.port) + "/0" }

// start runs redis-server on the server's port and directory and waits until it answers PING.
func (s *redisServer) start(t testing.TB) {
	t.Helper()
	s.cmd = exec.Command("redis-server", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--save", "", //nolint:gosec // test binary
		"--appendonly", "yes", "--appendfsync", "always", "--dir", s.dir)
	require.NoError(t, s.cmd.Start())
	done := make(chan struct{})
	s.done = done
	cmd := s.cmd
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() { s.kill(t) })
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(s.port)})
	defer c.Close()
	waitFor(t, 10*time.Second, "redis-server answers", func() bool {
		return c.Ping(t.Context()).Err() == nil
	})
}

// kill stops redis-server with SIGKILL (nothing flushed beyond what fsync always already wrote).
func (s *redisServer) kill(t testing.TB) {
	t.Helper()
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Errorf("redis-server %d survived SIGKILL", s.cmd.Process.Pid)
	}
}

// TestEndToEndRedisOutage kills the worker's Redis in the middle of a run, publishes more events during the
// outage and starts Redis again on the same port and data: nothing is dead-lettered, no message reaches
// MaxDeliver, and the final directory is exact.
func TestEndToEndRedisOutage(t *testing.T) {
	t.Parallel()
	rs := startRedisServer(t)
	f := newFixture(t)
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(rs.port)})
	t.Cleanup(func() { _ = rdb.Close() })
	want := loadExpected(t, "testdata/e2e-expected-restart.json")
	require.NoError(t, f.sim.SetFault(docusignsim.Fault{Operation: opAdminCreate, Latency: 100 * time.Millisecond}))
	s := scenario{source: f.source, t0: time.Now().Add(-time.Hour)}

	// The default MaxDeliver (10): the intake's pause is checked below through its metric; the bound on
	// deliveries during an outage is tested in events (TestIntakeRedisOutage, MaxDeliver 3), closer to the
	// consumer than a whole worker on a loaded machine can be.
	r := f.start(t, map[string]string{"WORKER_REDIS_URL": rs.url()})
	nc, err := nats.Connect(r.natsURL)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	var advisories atomic.Int64
	_, err = nc.Subscribe("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>", func(*nats.Msg) { advisories.Add(1) })
	require.NoError(t, err)
	require.NoError(t, nc.Flush())

	const beforeOutage = 30
	for n := 1; n <= beforeOutage; n++ {
		r.publish(t, "hr.employee.joined", s.joined(fmt.Sprintf("j%02d", n), baseEmployee(n), s.t0))
	}
	waitFor(t, 30*time.Second, "a few joiners are provisioned", func() bool { return activeUsers(f.sim) >= 5 })
	rs.kill(t)
	t.Logf("redis-server killed with %d of %d employees provisioned", activeUsers(f.sim), restartEmployees)
	waitFor(t, 20*time.Second, "the worker reports Redis unready", func() bool {
		code, _ := r.get(t, "/readyz")
		return code != http.StatusOK
	})
	for n := beforeOutage + 1; n <= restartEmployees; n++ {
		r.publish(t, "hr.employee.joined", s.joined(fmt.Sprintf("j%02d", n), baseEmployee(n), s.t0))
	}
	// Keep Redis down for a while: longer than the consumer's redelivery delays, so a Nak loop would show.
	outageEnds := time.Now().Add(5 * time.Second)
	waitFor(t, 10*time.Second, "the outage has lasted 5 s", func() bool { return time.Now().After(outageEnds) })
	rs.start(t)
	f.sim.ClearFaults()

	waitFor(t, 90*time.Second, "every joiner is provisioned", func() bool { return activeUsers(f.sim) == restartEmployees })
	publishLeavers(t, r, s)
	waitFor(t, 30*time.Second, "the directory equals the expected one", func() bool {
		got := directory(t, f.sim)
		return fmt.Sprint(got) == fmt.Sprint(want)
	})
	require.Equal(t, want, directory(t, f.sim))
	insp := asynq.NewInspectorFromRedisClient(rdb)
	q, err := insp.GetQueueInfo(f.queue)
	require.NoError(t, err)
	require.Zero(t, q.Archived, "nothing archived")

	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	dl, err := js.Stream(ctx, events.DefaultDeadLetterStream)
	require.NoError(t, err)
	info, err := dl.Info(ctx)
	require.NoError(t, err)
	require.Zero(t, info.State.Msgs, "no dead letters")
	require.Positive(t, r.metric(t, "docusign_worker_events_intake_pauses_total", nil), "the intake paused for the outage")
	require.Zero(t, advisories.Load(), "no MAX_DELIVERIES advisory")
	require.Zero(t, r.metric(t, "docusign_worker_events_dead_lettered_total", nil))
	require.Equal(t, 0, r.stop(t, 20*time.Second))
}
