package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/docusign/docusignsim"
	"github.com/jml-sync/docusign-worker/events"
)

// latencyTrickle is the pace of the latency benchmark's events: slow enough that the queues are idle between them.
const latencyTrickle = 100 * time.Millisecond

// latencyRun collects publish → arrival latencies: arrivals receives the time the first request (or handler) of
// each event is seen.
type latencyRun struct {
	arrivals chan time.Time
	lat      []time.Duration
}

func newLatencyRun() *latencyRun { return &latencyRun{arrivals: make(chan time.Time, 1024)} }

// drain forgets the arrivals seen so far (the later requests of the previous event).
func (l *latencyRun) drain() {
	for {
		select {
		case <-l.arrivals:
		default:
			return
		}
	}
}

// trickle publishes n events at latencyTrickle, each built by event(i), timing each one's first arrival.
func (l *latencyRun) trickle(b *testing.B, js jetstream.JetStream, n int, event func(i int) (string, []byte, string)) {
	b.Helper()
	tick := time.NewTicker(latencyTrickle)
	defer tick.Stop()
	for i := range n {
		<-tick.C
		l.drain()
		subject, body, id := event(i)
		msg := &nats.Msg{Subject: subject, Data: body, Header: nats.Header{"Content-Type": []string{events.ContentTypeStructured}}}
		published := time.Now()
		ctx, cancel := context.WithTimeout(b.Context(), 5*time.Second)
		_, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(id))
		cancel()
		require.NoError(b, err)
		select {
		case at := <-l.arrivals:
			l.lat = append(l.lat, at.Sub(published))
		case <-time.After(10 * time.Second):
			b.Fatalf("event %d: nothing arrived within 10 s", i)
		}
	}
}

// report adds p50 and p99 (ms) to the benchmark's results.
func (l *latencyRun) report(b *testing.B) {
	b.Helper()
	s := slices.Clone(l.lat)
	slices.Sort(s)
	q := func(p float64) float64 {
		if len(s) == 0 {
			return 0
		}
		return float64(s[min(len(s)-1, int(p*float64(len(s))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// idleRedisOps measures the commands per second Redis serves while nothing is published.
func idleRedisOps(b *testing.B, rdb *redis.Client) float64 {
	b.Helper()
	total := func() int64 {
		info, err := rdb.Info(b.Context(), "stats").Result()
		require.NoError(b, err)
		for line := range strings.SplitSeq(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "total_commands_processed:"); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				require.NoError(b, err)
				return n
			}
		}
		b.Fatal("INFO stats lacks total_commands_processed")
		return 0
	}
	const span = 2 * time.Second
	before, from := total(), time.Now()
	waitFor(b, 2*span, "the idle span is over", func() bool { return time.Since(from) >= span })
	return float64(total()-before-1) / time.Since(from).Seconds() // less the INFO itself
}

// BenchmarkPublishToFirstRequest measures the latency from publishing an HR event to the first DocuSign request at
// the simulator (ours), against a bare JetStream → asynq → no-op handler path at the same TaskCheckInterval and at
// asynq's default (1 s), each with its own redis-server so the idle Redis load can be reported. Run with a fixed
// count, e.g. go test -run '^$' -bench PublishToFirstRequest -benchtime 200x ./cmd/worker/.
func BenchmarkPublishToFirstRequest(b *testing.B) {
	b.Run("ours", benchOurs)
	b.Run("bare-50ms", func(b *testing.B) { benchBare(b, 50*time.Millisecond) })
	b.Run("bare-asynq-default", func(b *testing.B) { benchBare(b, 0) })
}

// benchOurs runs the worker in process (default settings, TaskCheckInterval 50 ms) against the simulator.
func benchOurs(b *testing.B) {
	rs := startRedisServer(b)
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(rs.port)})
	b.Cleanup(func() { _ = rdb.Close() })
	keys, err := keyPair()
	require.NoError(b, err)
	l := newLatencyRun()
	sim, err := docusignsim.Start(docusignsim.Options{PublicKeyPEM: keys[1], HourlyLimit: 1_000_000, BurstLimit: 1_000_000,
		CallLogLimit: -1, ObserveFunc: func(rec docusignsim.CallRecord) {
			if strings.HasPrefix(rec.Operation, "OAuth_") {
				return
			}
			select {
			case l.arrivals <- rec.Time:
			default:
			}
		}})
	require.NoError(b, err)
	b.Cleanup(func() { _ = sim.Close() })
	dir := b.TempDir()
	keyFile := filepath.Join(dir, "private.pem")
	require.NoError(b, os.WriteFile(keyFile, keys[0], 0o600))
	natsListen := "127.0.0.1:" + strconv.Itoa(freePort(b))
	natsURL := "nats://" + natsListen
	env := map[string]string{
		"WORKER_REDIS_URL":                 rs.url(),
		"WORKER_NATS_LISTEN":               natsListen,
		"WORKER_NATS_DATA_DIR":             filepath.Join(dir, "nats"),
		"WORKER_HTTP_ADDR":                 "127.0.0.1:0",
		"WORKER_DOCUSIGN_AUTH_URL":         sim.AuthURL(),
		"WORKER_DOCUSIGN_ADMIN_URL":        sim.AdminURL(),
		"WORKER_DOCUSIGN_INTEGRATION_KEY":  sim.IntegrationKey(),
		"WORKER_DOCUSIGN_USER_ID":          docusignsim.DemoAdminUserID,
		"WORKER_DOCUSIGN_PRIVATE_KEY_FILE": keyFile,
		"WORKER_DOCUSIGN_ORGANIZATION_ID":  sim.OrganizationID(),
		"WORKER_DOCUSIGN_ACCOUNTS":         acctNA2,
		"WORKER_RATELIMIT_LIMIT":           "1000000",
		"WORKER_RATELIMIT_BURST_LIMIT":     "1000000",
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, nil, getenvFrom(env), out, out) }()
	b.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			b.Errorf("worker did not stop")
		}
	})
	waitFor(b, 30*time.Second, "the worker is ready", func() bool {
		select {
		case code := <-done:
			b.Fatalf("worker exited with %d; log:\n%s", code, out.String())
		default:
		}
		return strings.Contains(out.String(), `"worker ready"`)
	})
	nc, err := nats.Connect(natsURL)
	require.NoError(b, err)
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(b, err)

	s := scenario{source: "hris://bench/ours", t0: time.Now().Add(-time.Hour)}
	event := func(i int) (string, []byte, string) {
		e := employee{n: i, first: "Bench", last: fmt.Sprintf("User%05d", i), email: fmt.Sprintf("bench%05d@example.com", i),
			access: []membership{{acctNA2, profSender, []string{"Sales"}}}}
		id := fmt.Sprintf("b%05d", i)
		body, err := json.Marshal(s.joined(id, e, s.t0))
		require.NoError(b, err)
		return "hr.employee.joined", body, id
	}
	// Warm the caches (token, userinfo, profiles, groups) and the connections.
	warm := newLatencyRun()
	warm.arrivals = l.arrivals
	warm.trickle(b, js, 3, func(i int) (string, []byte, string) { return event(1_000_000 + i) })

	b.ResetTimer()
	l.trickle(b, js, b.N, event)
	b.StopTimer()
	l.report(b)
	b.ReportMetric(idleRedisOps(b, rdb), "idle-redis-ops/s")
}

// benchBare runs the bare path: a JetStream pull consumer that enqueues each message as an asynq task with a TaskID,
// and a no-op handler that records when it starts. checkInterval 0 is asynq's default (1 s).
func benchBare(b *testing.B, checkInterval time.Duration) {
	rs := startRedisServer(b)
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(rs.port)})
	b.Cleanup(func() { _ = rdb.Close() })
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: b.TempDir(), NoSigs: true})
	require.NoError(b, err)
	ns.Start()
	require.True(b, ns.ReadyForConnections(10*time.Second))
	b.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	nc, err := nats.Connect(ns.ClientURL())
	require.NoError(b, err)
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(b, err)
	ctx := b.Context()
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "BARE", Subjects: []string{"bare.>"},
		Storage: jetstream.FileStorage, Duplicates: time.Minute})
	require.NoError(b, err)
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "bare", AckPolicy: jetstream.AckExplicitPolicy})
	require.NoError(b, err)

	l := newLatencyRun()
	const queue = "bare"
	client := asynq.NewClientFromRedisClient(rdb)
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		id := msg.Headers().Get(nats.MsgIdHdr)
		_, err := client.Enqueue(asynq.NewTask("bare", msg.Data()), asynq.TaskID(id), asynq.Queue(queue), asynq.Retention(time.Hour))
		if err != nil {
			_ = msg.Nak()
			return
		}
		_ = msg.Ack()
	})
	require.NoError(b, err)
	b.Cleanup(cc.Stop)
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: 10, Queues: map[string]int{queue: 1},
		TaskCheckInterval: checkInterval, LogLevel: asynq.ErrorLevel})
	require.NoError(b, srv.Start(asynq.HandlerFunc(func(context.Context, *asynq.Task) error {
		select {
		case l.arrivals <- time.Now():
		default:
		}
		return nil
	})))
	b.Cleanup(srv.Shutdown)

	event := func(i int) (string, []byte, string) {
		id := fmt.Sprintf("b%05d", i)
		return "bare.event", []byte(`{"id":"` + id + `"}`), id
	}
	l.trickle(b, js, 3, func(i int) (string, []byte, string) { return event(1_000_000 + i) })
	l.lat = nil

	b.ResetTimer()
	l.trickle(b, js, b.N, event)
	b.StopTimer()
	l.report(b)
	b.ReportMetric(idleRedisOps(b, rdb), "idle-redis-ops/s")
}
