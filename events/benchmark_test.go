package events_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/events"
	"github.com/jml-sync/docusign-worker/internal/testenv"
)

// benchConcurrency is the consumer concurrency of both intakes.
const benchConcurrency = events.DefaultConcurrency

// BenchmarkIntakeThroughput measures events/s from publish to enqueued for
// this package's intake ("events": decode, schema validation, tombstone
// check, TaskID deduplication) and for a bare JetStream consumer that
// enqueues the raw body with a TaskID and no decoding ("bare"), at the same
// concurrency, each against a fresh embedded NATS server and the same real
// Redis. The two alternate for a few rounds in one run, to share the
// machine's noise; the report gives the median of each and the median of
// the per-pair ratios. b.N is the number of events per run.
//
//	TEST_REDIS_URL=redis://127.0.0.1:6379/14 go test -run '^$' -bench IntakeThroughput -benchtime 20000x ./events/
func BenchmarkIntakeThroughput(b *testing.B) {
	pairs := 5
	if b.N < 1000 {
		pairs = 1
	}
	var bare, ours, ratio []float64
	for i := range pairs {
		// Alternate which goes first, so a trend in the machine's load
		// favours neither.
		var x, y float64
		if i%2 == 0 {
			x = runIntake(b, startBare)
			y = runIntake(b, startEvents)
		} else {
			y = runIntake(b, startEvents)
			x = runIntake(b, startBare)
		}
		bare, ours, ratio = append(bare, x), append(ours, y), append(ratio, 100*y/x)
	}
	b.Logf("pairs: bare %.0f, events %.0f events/s", bare, ours)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(median(bare), "bare-events/s")
	b.ReportMetric(median(ours), "events/s")
	b.ReportMetric(median(ratio), "%-of-bare")
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// scope collects the cleanups of one round, run when the round ends rather
// than when the benchmark does.
type scope struct {
	testing.TB
	cleanups []func()
}

func (s *scope) Cleanup(f func()) { s.cleanups = append(s.cleanups, f) }

func (s *scope) close() {
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		s.cleanups[i]()
	}
}

// intakeStarter starts an intake on js enqueuing into queue and returns the
// count of tasks enqueued so far.
type intakeStarter func(tb testing.TB, js jetstream.JetStream, r *redisBackends, queue string) func() uint64

// runIntake publishes b.N joiners to a fresh stream and returns the events/s
// from the first publish to the last enqueue.
func runIntake(b *testing.B, startIntake intakeStarter) float64 {
	b.StopTimer()
	sc := &scope{TB: b}
	defer sc.close()
	_, js := runJetStream(sc)
	rdb := testenv.RedisClient(sc)
	r := newRedisBackends(sc, rdb, testenv.Prefix(sc, rdb))
	queue := uniqueQueue(sc, r.inspector)
	source := "bench-" + randomHex(sc, 6)
	enqueued := startIntake(sc, js, r, queue)

	bodies := make([][]byte, b.N)
	bb := &bundle{source: source}
	for i := range bodies {
		bodies[i] = mustJSON(b, bb.event("evt-"+strconv.Itoa(i), events.TypeJoined, "E"+strconv.Itoa(i)))
	}

	b.StartTimer()
	start := time.Now()
	for i, body := range bodies {
		_, err := js.PublishMsgAsync(&nats.Msg{Subject: "hr.employee.joined", Data: body},
			jetstream.WithMsgID(source+":evt-"+strconv.Itoa(i)), jetstream.WithStallWait(time.Minute))
		require.NoError(b, err)
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("publish did not complete")
	}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(5 * time.Minute)
	for enqueued() < uint64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d enqueued", enqueued(), b.N)
		}
		<-tick.C
	}
	elapsed := time.Since(start)
	b.StopTimer()
	return float64(b.N) / elapsed.Seconds()
}

func startEvents(tb testing.TB, js jetstream.JetStream, r *redisBackends, queue string) func() uint64 {
	tb.Helper()
	c, err := events.New(js, r.backends(), events.Config{Queue: queue, Concurrency: benchConcurrency})
	require.NoError(tb, err)
	start(tb, c)
	tb.Cleanup(func() {
		s := c.Stats()
		if s.Pauses > 0 || s.Naked > 0 || s.Duplicates > 0 {
			tb.Logf("intake: pauses %d, naked %d, duplicates %d", s.Pauses, s.Naked, s.Duplicates)
		}
	})
	testenv.WaitFor(tb, 10*time.Second, "consumer created", func() bool {
		_, err := js.Consumer(context.Background(), events.DefaultStream, events.DefaultDurable)
		return err == nil
	})
	return func() uint64 { return c.Stats().Enqueued }
}

// startBare is the baseline: the same stream and consumer settings, Consume
// with the same buffer, N workers, enqueue of the raw body with the
// publisher's message id as TaskID, ack after enqueue.
func startBare(tb testing.TB, js jetstream.JetStream, r *redisBackends, queue string) func() uint64 {
	tb.Helper()
	ctx := context.Background()
	require.NoError(tb, events.EnsureStreams(ctx, js, events.Config{}))
	cons, err := js.CreateOrUpdateConsumer(ctx, events.DefaultStream, jetstream.ConsumerConfig{
		Durable: "bare", AckPolicy: jetstream.AckExplicitPolicy, AckWait: events.DefaultAckWait,
		MaxDeliver: events.DefaultMaxDeliver, MaxAckPending: events.DefaultMaxAckPending,
	})
	require.NoError(tb, err)

	var n atomic.Uint64
	work := make(chan jetstream.Msg)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	for range benchConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case m := <-work:
					task := asynq.NewTask("bench:bare", m.Data(),
						asynq.TaskID(m.Headers().Get(nats.MsgIdHdr)), asynq.Queue(queue))
					_, err := r.client.EnqueueContext(ctx, task)
					if err == nil {
						n.Add(1)
						_ = m.Ack()
					} else {
						_ = m.NakWithDelay(time.Second)
					}
				case <-quit:
					return
				}
			}
		}()
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case work <- m:
		case <-quit:
		}
	}, jetstream.PullMaxMessages(benchConcurrency))
	require.NoError(tb, err)
	tb.Cleanup(func() {
		cc.Drain()
		<-cc.Closed()
		close(quit)
		wg.Wait()
	})
	return n.Load
}

// BenchmarkDecode is the decoder alone on a joiner of about 700 bytes.
func BenchmarkDecode(b *testing.B) {
	body, err := os.ReadFile("testdata/joined.json")
	require.NoError(b, err)
	dec := newDecoder(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := dec.Decode(nil, body); err != nil {
			b.Fatal(err)
		}
	}
}
