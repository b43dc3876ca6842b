package events

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/jml-sync/docusign-worker/jobs"
)

// Defaults of Config.
const (
	DefaultStream             = "HR"
	DefaultSubject            = "hr.employee.>"
	DefaultStreamMaxAge       = 30 * 24 * time.Hour
	DefaultDuplicates         = 2 * time.Minute
	DefaultDeadLetterStream   = "DEADLETTER"
	DefaultDeadLetterPrefix   = "deadletter"
	DefaultDeadLetterMaxAge   = 365 * 24 * time.Hour
	DefaultDeadLetterMaxMsgs  = 1_000_000
	DefaultDeadLetterMaxBytes = 1 << 30
	DefaultDurable            = "provisioner"
	DefaultAckWait            = 30 * time.Second
	DefaultMaxDeliver         = 10
	DefaultMaxAckPending      = 1000
	DefaultConcurrency        = 8
	DefaultNakDelay           = 2 * time.Second
	DefaultOpTimeout          = 10 * time.Second
	DefaultProbeInterval      = 250 * time.Millisecond
	DefaultProbeMaxInterval   = 30 * time.Second
	DefaultTombstoneTTLMargin = 24 * time.Hour
)

// Config configures a Consumer. The zero value of every field means its
// default.
type Config struct {
	// Stream is the HR event stream (default "HR"); Subjects are its
	// subjects (default "hr.employee.>").
	Stream   string
	Subjects []string
	// StreamMaxAge is how long the HR stream keeps events (default 30 days).
	StreamMaxAge time.Duration
	// Duplicates is the Nats-Msg-Id deduplication window of both streams
	// (default 2 min).
	Duplicates time.Duration
	// Replicas of both streams (default 1; 3 in a NATS cluster).
	Replicas int

	// DeadLetterStream (default "DEADLETTER") captures
	// DeadLetterPrefix+".>" (default "deadletter.>"); intake dead letters go to
	// DeadLetterPrefix+".intake.<reason>", archived tasks (written elsewhere)
	// to DeadLetterPrefix+".task.<task type>.<task id>".
	DeadLetterStream string
	DeadLetterPrefix string
	// DeadLetterMaxAge is how long dead letters are kept (default 1 year).
	DeadLetterMaxAge time.Duration
	// DeadLetterMaxMsgs and DeadLetterMaxBytes bound the dead-letter stream
	// (0: DefaultDeadLetterMaxMsgs, DefaultDeadLetterMaxBytes; -1: no
	// limit). A full stream refuses new dead letters rather than dropping old
	// ones (DiscardNew): the writer fails loudly and retries, nothing is
	// dropped silently.
	DeadLetterMaxMsgs  int64
	DeadLetterMaxBytes int64

	// Durable is the durable pull consumer's name (default "provisioner").
	Durable string
	// AckWait is the redelivery delay after an unacknowledged delivery
	// (default 30 s). BackOff, when set, makes the server use BackOff[n-1]
	// for the n-th delivery instead; AckWait must then equal BackOff[0] (it
	// is set to it when zero). BackOff is off by default because the server
	// (2.15) also stretches a NakWithDelay on the n-th delivery by
	// BackOff[n-1] - AckWait, which would delay the recovery after a Redis
	// outage by minutes.
	AckWait time.Duration
	BackOff []time.Duration
	// MaxDeliver bounds deliveries of one message (default 10); see the
	// package documentation for the arithmetic against outages.
	MaxDeliver int
	// MaxAckPending bounds unacknowledged messages across all workers
	// (default 1000).
	MaxAckPending int

	// Concurrency is the number of messages handled at once (default 8).
	Concurrency int
	// PullMaxMessages is how many messages the client buffers ahead
	// (default Concurrency).
	PullMaxMessages int
	// MaxEventBytes rejects larger bodies as "oversized" (default 64 KiB).
	MaxEventBytes int
	// NakDelay is the redelivery delay of a message naked because Redis or
	// the dead-letter stream was unavailable (default 2 s).
	NakDelay time.Duration
	// OpTimeout bounds each Redis or NATS operation on a message (default
	// 10 s).
	OpTimeout time.Duration
	// ProbeInterval is the first wait before probing Redis after a failure;
	// the wait doubles up to ProbeMaxInterval (defaults 250 ms, 30 s).
	ProbeInterval    time.Duration
	ProbeMaxInterval time.Duration

	// Retention keeps completed tasks, and so their TaskIDs (default
	// jobs.DefaultRetention). MaxRetry is passed to jobs.NewTask (0: asynq's
	// default). Queue, when set, overrides the per-type queue of every task
	// (e.g. jobs.QueueLow for a backfill intake); TaskIDs deduplicate within
	// a queue only.
	Retention time.Duration
	MaxRetry  int
	Queue     string
	// QueuePrefix, when Queue is empty, is put before each task type's queue
	// name (jobs.ShadowQueuePrefix in shadow mode).
	QueuePrefix string
	// TombstoneTTL is how long a cancellation's tombstone lives; at least
	// Retention (default Retention + 24 h).
	TombstoneTTL time.Duration

	// Rules says a mapping rules file is in force: joiners and movers without
	// data.accounts are accepted (the handlers apply the rules).
	Rules bool

	// Logger receives the intake's logs; the zero value logs nothing.
	Logger zerolog.Logger
	// NowFunc is the clock (default time.Now).
	NowFunc func() time.Time
}

func (c *Config) setDefaults() {
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if len(c.Subjects) == 0 {
		c.Subjects = []string{DefaultSubject}
	}
	if c.StreamMaxAge == 0 {
		c.StreamMaxAge = DefaultStreamMaxAge
	}
	if c.Duplicates == 0 {
		c.Duplicates = DefaultDuplicates
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.DeadLetterStream == "" {
		c.DeadLetterStream = DefaultDeadLetterStream
	}
	if c.DeadLetterPrefix == "" {
		c.DeadLetterPrefix = DefaultDeadLetterPrefix
	}
	if c.DeadLetterMaxAge == 0 {
		c.DeadLetterMaxAge = DefaultDeadLetterMaxAge
	}
	if c.DeadLetterMaxMsgs == 0 {
		c.DeadLetterMaxMsgs = DefaultDeadLetterMaxMsgs
	}
	if c.DeadLetterMaxBytes == 0 {
		c.DeadLetterMaxBytes = DefaultDeadLetterMaxBytes
	}
	if c.Durable == "" {
		c.Durable = DefaultDurable
	}
	switch {
	case c.AckWait == 0 && len(c.BackOff) == 0:
		c.AckWait = DefaultAckWait
	case c.AckWait == 0:
		c.AckWait = c.BackOff[0]
	}
	if c.MaxDeliver == 0 {
		c.MaxDeliver = DefaultMaxDeliver
	}
	if c.MaxAckPending == 0 {
		c.MaxAckPending = DefaultMaxAckPending
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.PullMaxMessages == 0 {
		c.PullMaxMessages = c.Concurrency
	}
	if c.MaxEventBytes == 0 {
		c.MaxEventBytes = DefaultMaxEventBytes
	}
	if c.NakDelay == 0 {
		c.NakDelay = DefaultNakDelay
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = DefaultOpTimeout
	}
	if c.ProbeInterval == 0 {
		c.ProbeInterval = DefaultProbeInterval
	}
	if c.ProbeMaxInterval == 0 {
		c.ProbeMaxInterval = DefaultProbeMaxInterval
	}
	if c.Retention == 0 {
		c.Retention = jobs.DefaultRetention
	}
	if c.TombstoneTTL == 0 {
		c.TombstoneTTL = c.Retention + DefaultTombstoneTTLMargin
	}
	if c.NowFunc == nil {
		c.NowFunc = time.Now
	}
}

// validate reports every problem at once.
func (c *Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !validName(c.Stream) {
		bad("stream %q: use letters, digits, '-' and '_'", c.Stream)
	}
	if !validName(c.DeadLetterStream) {
		bad("dead-letter stream %q: use letters, digits, '-' and '_'", c.DeadLetterStream)
	}
	if c.Stream == c.DeadLetterStream {
		bad("stream and dead-letter stream are both %q", c.Stream)
	}
	if !validName(c.Durable) {
		bad("durable %q: use letters, digits, '-' and '_'", c.Durable)
	}
	for _, s := range c.Subjects {
		if !validSubject(s, true) {
			bad("subject %q is not a valid NATS subject", s)
		}
	}
	if !validSubject(c.DeadLetterPrefix, false) {
		bad("dead-letter prefix %q is not a valid NATS subject prefix (no wildcards)", c.DeadLetterPrefix)
	}
	for _, s := range c.Subjects {
		if subjectsOverlap(s, c.DeadLetterPrefix+".>") {
			bad("subject %q overlaps the dead-letter subjects %s.>", s, c.DeadLetterPrefix)
		}
	}
	for name, d := range map[string]time.Duration{
		"stream max age": c.StreamMaxAge, "duplicates window": c.Duplicates,
		"dead-letter max age": c.DeadLetterMaxAge, "ack wait": c.AckWait, "nak delay": c.NakDelay,
		"op timeout": c.OpTimeout, "probe interval": c.ProbeInterval, "probe max interval": c.ProbeMaxInterval,
		"retention": c.Retention, "tombstone TTL": c.TombstoneTTL,
	} {
		if d < 0 {
			bad("%s %v is negative", name, d)
		}
	}
	if c.Duplicates > c.StreamMaxAge || c.Duplicates > c.DeadLetterMaxAge {
		bad("duplicates window %v exceeds a stream's max age", c.Duplicates)
	}
	if c.DeadLetterMaxMsgs < -1 || c.DeadLetterMaxBytes < -1 {
		bad("dead-letter limits %d messages, %d bytes: want a positive number or -1 (no limit)", c.DeadLetterMaxMsgs, c.DeadLetterMaxBytes)
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		bad("replicas %d: want 1 to 5", c.Replicas)
	}
	for i, d := range c.BackOff {
		if d <= 0 {
			bad("back-off[%d] %v is not positive", i, d)
		}
	}
	if len(c.BackOff) > 0 && c.AckWait != c.BackOff[0] {
		bad("ack wait %v differs from back-off[0] %v: the server uses back-off[0]; set one of them", c.AckWait, c.BackOff[0])
	}
	if c.MaxDeliver < 2 {
		bad("max deliver %d: want at least 2 (a delivery is spent by every outage that catches a message in flight)", c.MaxDeliver)
	}
	if len(c.BackOff) > c.MaxDeliver {
		bad("back-off has %d entries, more than max deliver %d", len(c.BackOff), c.MaxDeliver)
	}
	if c.Concurrency < 1 {
		bad("concurrency %d: want at least 1", c.Concurrency)
	}
	if c.PullMaxMessages < 1 {
		bad("pull max messages %d: want at least 1", c.PullMaxMessages)
	}
	if c.MaxAckPending < c.Concurrency+c.PullMaxMessages {
		bad("max ack pending %d is below concurrency + pull max messages (%d)", c.MaxAckPending, c.Concurrency+c.PullMaxMessages)
	}
	if c.MaxEventBytes < 256 {
		bad("max event bytes %d: want at least 256", c.MaxEventBytes)
	}
	if c.ProbeMaxInterval < c.ProbeInterval {
		bad("probe max interval %v is below probe interval %v", c.ProbeMaxInterval, c.ProbeInterval)
	}
	if c.TombstoneTTL < c.Retention {
		bad("tombstone TTL %v is below retention %v: a redelivered cancelled event could be enqueued again", c.TombstoneTTL, c.Retention)
	}
	if c.MaxRetry < 0 {
		bad("max retry %d is negative", c.MaxRetry)
	}
	if c.Queue != "" && strings.TrimSpace(c.Queue) != c.Queue {
		bad("queue %q has surrounding spaces", c.Queue)
	}
	return errors.Join(errs...)
}

// validName reports whether s is a valid stream or consumer name.
func validName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// validSubject reports whether s is a NATS subject (with wildcards when
// allowed).
func validSubject(s string, wildcards bool) bool {
	if s == "" {
		return false
	}
	toks := strings.Split(s, ".")
	for i, t := range toks {
		if t == "" || strings.ContainsAny(t, " \t\r\n") {
			return false
		}
		if t == "*" || t == ">" {
			if !wildcards || (t == ">" && i != len(toks)-1) {
				return false
			}
			continue
		}
		if strings.ContainsAny(t, "*>") {
			return false
		}
	}
	return true
}

// subjectsOverlap reports whether two subject filters can match one subject.
func subjectsOverlap(a, b string) bool {
	ta, tb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(ta) && i < len(tb); i++ {
		if ta[i] == ">" || tb[i] == ">" {
			return true
		}
		if ta[i] != "*" && tb[i] != "*" && ta[i] != tb[i] {
			return false
		}
	}
	return len(ta) == len(tb)
}
