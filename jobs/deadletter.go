package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/jml-sync/docusign-worker/docusign"
)

// Who wrote a dead-letter record ([DeadLetter].RecordedBy).
const (
	// RecordedByErrorHandler: asynq's ErrorHandler, just before asynq
	// archived the task.
	RecordedByErrorHandler = "error_handler"
	// RecordedBySweep: the periodic sweep of asynq's archive, which also
	// finds the tasks asynq's recoverer archived without calling the
	// ErrorHandler, and those whose record could not be written at once.
	RecordedBySweep = "archive_sweep"
)

// Dead-letter defaults.
const (
	// DefaultDeadLetterSubjectPrefix is the subject prefix of dead letters;
	// task records go to <prefix>.task.<task type>.<task id>.
	DefaultDeadLetterSubjectPrefix = "deadletter"
	// DefaultSweepInterval is how often asynq's archive is swept.
	DefaultSweepInterval = time.Minute
	// DefaultFullSweepEvery makes every 60th sweep (hourly by default) read
	// the whole archives.
	DefaultFullSweepEvery = 60
	// DefaultSweepPageSize is how many archived tasks one Inspector call
	// lists.
	DefaultSweepPageSize = 500
	// DefaultDeadLetterMarkerTTL keeps the "recorded" marker of an archived
	// task longer than asynq keeps the task (90 days).
	DefaultDeadLetterMarkerTTL = 100 * 24 * time.Hour
	// AsynqArchiveLimit is the size at which asynq v0.26 silently trims a
	// queue's archive (oldest first); the sweep warns from 90 % of it.
	AsynqArchiveLimit = 10000
)

// ErrDeadLetterStreamFull means the dead-letter stream refused a record
// because it reached one of its limits (WORKER_DEADLETTER_MAX_MSGS,
// WORKER_DEADLETTER_MAX_BYTES): the task stays in asynq's archive and the
// sweep writes its record once there is room again.
var ErrDeadLetterStreamFull = errors.New("jobs: dead-letter stream is full")

// DeadLetter is the durable record of an archived task: enough to
// understand why it failed and to enqueue it again ([ReplayDeadLetter]) after
// asynq has trimmed its archive.
type DeadLetter struct {
	TaskID   string `json:"task_id"`
	TaskType string `json:"task_type"`
	Queue    string `json:"queue"`
	// Reason is the reason code ([ReasonOf]); ReasonRetryLimit when the
	// error carried none.
	Reason string `json:"reason"`
	// Error is the last error.
	Error string `json:"error"`
	// DocuSignErrorCode, DocuSignMessage and TraceToken come from the last
	// DocuSign reply, when the failure was DocuSign's.
	DocuSignErrorCode string `json:"docusign_error_code,omitempty"`
	DocuSignMessage   string `json:"docusign_message,omitempty"`
	TraceToken        string `json:"docusign_trace_token,omitempty"`
	// Retried is asynq's count of failed runs that counted (rate-limit waits
	// and crashes do not); MaxRetry is the task's asynq MaxRetry, reused by
	// a replay.
	Retried  int `json:"retried"`
	MaxRetry int `json:"max_retry"`
	// The causing HR event.
	EventSource string    `json:"event_source,omitempty"`
	EventID     string    `json:"event_id,omitempty"`
	EventTime   time.Time `json:"event_time,omitzero"`
	EmployeeID  string    `json:"employee_id,omitempty"`
	// Replays counts earlier replays of this task (the payload's Replays).
	Replays int `json:"replays"`
	// FailedAt is when the last run failed; RecordedAt when this record was
	// written, by RecordedBy.
	FailedAt   time.Time `json:"failed_at"`
	RecordedAt time.Time `json:"recorded_at"`
	RecordedBy string    `json:"recorded_by"`
	// Payload is the task's payload as it was archived.
	Payload json.RawMessage `json:"payload"`
}

// DeadLetterSubject returns the subject of a task's dead-letter record:
// <prefix>.task.<task type>.<task id>.
func DeadLetterSubject(prefix, taskType, taskID string) string {
	return prefix + ".task." + taskType + "." + taskID
}

// DeadLetterMsgID is the Nats-Msg-Id of a record: the ErrorHandler and the
// sweep writing the same archived task store it once.
func DeadLetterMsgID(taskID string, replays int) string {
	return "task:" + taskID + ":" + strconv.Itoa(replays)
}

// ArchivedRun describes a failed run that asynq is about to archive, as
// asynq's ErrorHandler sees it.
type ArchivedRun struct {
	TaskID   string
	TaskType string
	Queue    string
	Retried  int
	MaxRetry int
	Payload  []byte
	Err      error
}

// NewDeadLetter builds the record of a run asynq is about to archive.
func NewDeadLetter(r ArchivedRun, now time.Time) DeadLetter {
	reason := ReasonOf(r.Err)
	if reason == "" {
		reason = ReasonRetryLimit
	}
	code, trace := DocuSignErrorDetails(r.Err)
	dl := DeadLetter{
		TaskID: r.TaskID, TaskType: r.TaskType, Queue: r.Queue, Reason: reason,
		DocuSignErrorCode: code, DocuSignMessage: docuSignMessage(r.Err), TraceToken: trace,
		Retried: r.Retried, MaxRetry: r.MaxRetry,
		FailedAt: now.UTC(), RecordedAt: now.UTC(), RecordedBy: RecordedByErrorHandler,
		Payload: json.RawMessage(r.Payload),
	}
	if r.Err != nil {
		dl.Error = r.Err.Error()
	}
	dl.fillFromPayload()
	return dl
}

// reasonInError finds the reason code in an error text written by
// [PermanentError.Error].
var reasonInError = regexp.MustCompile(`\(reason ([a-z_]+)\)`)

// deadLetterFromInfo builds the record of a task found in asynq's archive.
// asynq keeps only the error text, so the reason code is read from it and
// DocuSign's details are not known.
func deadLetterFromInfo(t *asynq.TaskInfo, now time.Time) DeadLetter {
	reason := ReasonRetryLimit
	switch m := reasonInError.FindStringSubmatch(t.LastErr); {
	case m != nil:
		reason = m[1]
	case t.LastErr == "":
		reason = ReasonArchivedManually
	}
	dl := DeadLetter{
		TaskID: t.ID, TaskType: t.Type, Queue: t.Queue, Reason: reason, Error: t.LastErr,
		Retried: t.Retried, MaxRetry: t.MaxRetry,
		FailedAt: t.LastFailedAt.UTC(), RecordedAt: now.UTC(), RecordedBy: RecordedBySweep,
		Payload: json.RawMessage(t.Payload),
	}
	dl.fillFromPayload()
	return dl
}

// fillFromPayload copies the event's identity out of the payload, when it
// decodes.
func (dl *DeadLetter) fillFromPayload() {
	var p Payload
	if json.Unmarshal(dl.Payload, &p) != nil {
		if !json.Valid(dl.Payload) {
			// Keep the record valid JSON: the payload as a string.
			raw, _ := json.Marshal(string(dl.Payload))
			dl.Payload = raw
		}
		return
	}
	dl.EventSource, dl.EventID, dl.EventTime = p.EventSource, p.EventID, p.EventTime
	dl.EmployeeID, dl.Replays = p.Employee.EmployeeID, p.Replays
}

// docuSignMessage returns DocuSign's message(s) in err's chain.
func docuSignMessage(err error) string {
	var apiErr *docusign.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Message
	}
	var pe *docusign.PartialError
	if errors.As(err, &pe) {
		msgs := make([]string, 0, len(pe.Items))
		for _, it := range pe.Items {
			msgs = append(msgs, it.Message)
		}
		return strings.Join(msgs, "; ")
	}
	return ""
}

// DeadLetterPublisher publishes records; jetstream.JetStream implements it.
type DeadLetterPublisher interface {
	Publish(ctx context.Context, subject string, payload []byte, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error)
}

// ArchiveInspector is what the sweep needs of asynq's Inspector.
type ArchiveInspector interface {
	Queues() ([]string, error)
	GetQueueInfo(queue string) (*asynq.QueueInfo, error)
	ListArchivedTasks(queue string, opts ...asynq.ListOption) ([]*asynq.TaskInfo, error)
}

// DeadLetterMetrics counts what the dead-letter writer does.
type DeadLetterMetrics interface {
	// DeadLetterRecorded counts a record written, by task type, reason and
	// writer (RecordedBy).
	DeadLetterRecorded(taskType, reason, by string)
	// DeadLetterWriteFailed counts a record that could not be written:
	// "stream_full" (a stream limit) or "error".
	DeadLetterWriteFailed(cause string)
}

// NopDeadLetterMetrics is a DeadLetterMetrics that does nothing.
type NopDeadLetterMetrics struct{}

// DeadLetterRecorded does nothing.
func (NopDeadLetterMetrics) DeadLetterRecorded(string, string, string) {}

// DeadLetterWriteFailed does nothing.
func (NopDeadLetterMetrics) DeadLetterWriteFailed(string) {}

// deadLetterRediser is what the writer needs of Redis: markers of recorded
// tasks and the sweep lock.
type deadLetterRediser interface {
	MGet(ctx context.Context, keys ...string) *redis.SliceCmd
	Set(ctx context.Context, key string, value any, expiration time.Duration) *redis.StatusCmd
	SetNX(ctx context.Context, key string, value any, expiration time.Duration) *redis.BoolCmd
}

// DeadLetterConfig configures [NewDeadLetters].
type DeadLetterConfig struct {
	// Publisher writes the records (a jetstream.JetStream).
	Publisher DeadLetterPublisher
	// Stream is the dead-letter stream (default "DEADLETTER"); publishes
	// expect it.
	Stream string
	// SubjectPrefix is the dead-letter subject prefix (default
	// DefaultDeadLetterSubjectPrefix).
	SubjectPrefix string
	// Redis holds a marker per recorded task (so the sweep does not write it
	// again) and the sweep lock.
	Redis deadLetterRediser
	// KeyPrefix prefixes those keys (default DefaultKeyPrefix).
	KeyPrefix string
	// Inspector lists asynq's archive for the sweep.
	Inspector ArchiveInspector
	// Queues are the queues swept.
	Queues []string
	// SweepInterval is how often the archive is swept (default
	// DefaultSweepInterval); PageSize how many tasks one listing returns
	// (default DefaultSweepPageSize).
	SweepInterval time.Duration
	PageSize      int
	// FullSweepEvery makes every n-th sweep a full one (default
	// DefaultFullSweepEvery).
	FullSweepEvery int
	// MarkerTTL is how long a task's "recorded" marker lives (default
	// DefaultDeadLetterMarkerTTL).
	MarkerTTL time.Duration
	// Timeout bounds one publish (default 5 s).
	Timeout time.Duration
	// Metrics counts records and failures.
	Metrics DeadLetterMetrics
	// Logger logs failures and warnings.
	Logger zerolog.Logger
	// NowFunc is the clock (default time.Now).
	NowFunc func() time.Time
}

func (c *DeadLetterConfig) setDefaults() {
	if c.Stream == "" {
		c.Stream = "DEADLETTER"
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = DefaultDeadLetterSubjectPrefix
	}
	if c.KeyPrefix == "" {
		c.KeyPrefix = DefaultKeyPrefix
	}
	if len(c.Queues) == 0 {
		c.Queues = []string{QueueCritical, QueueDefault, QueueLow}
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = DefaultSweepInterval
	}
	if c.PageSize <= 0 {
		c.PageSize = DefaultSweepPageSize
	}
	if c.FullSweepEvery <= 0 {
		c.FullSweepEvery = DefaultFullSweepEvery
	}
	if c.MarkerTTL <= 0 {
		c.MarkerTTL = DefaultDeadLetterMarkerTTL
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.Metrics == nil {
		c.Metrics = NopDeadLetterMetrics{}
	}
	if c.NowFunc == nil {
		c.NowFunc = time.Now
	}
}

func (c *DeadLetterConfig) validate() error {
	var errs []error
	if c.Publisher == nil {
		errs = append(errs, errors.New("missing Publisher (a jetstream.JetStream)"))
	}
	if c.Redis == nil {
		errs = append(errs, errors.New("missing Redis"))
	}
	if c.Inspector == nil {
		errs = append(errs, errors.New("missing Inspector (an *asynq.Inspector)"))
	}
	return errors.Join(errs...)
}

// DeadLetters writes the durable record of every archived task to the
// dead-letter stream: [DeadLetters.Record] from asynq's ErrorHandler, and
// [DeadLetters.Run], a periodic sweep of asynq's archive, for the tasks the
// ErrorHandler did not see (asynq's recoverer archives without calling it)
// or could not record. Any number of workers may run it: the sweep takes a
// Redis lock per interval, and records are deduplicated by
// [DeadLetterMsgID] and a Redis marker per task.
type DeadLetters struct {
	cfg DeadLetterConfig
}

// NewDeadLetters validates cfg and returns the writer.
func NewDeadLetters(cfg DeadLetterConfig) (*DeadLetters, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("jobs: invalid dead-letter config: %w", err)
	}
	return &DeadLetters{cfg: cfg}, nil
}

func (d *DeadLetters) markerKey(taskID string) string {
	return d.cfg.KeyPrefix + "deadletter:rec:" + taskID
}
func (d *DeadLetters) lockKey() string { return d.cfg.KeyPrefix + "deadletter:sweep:lock" }

// Record writes dl to the dead-letter stream and marks the task recorded.
// A full stream returns an error wrapping [ErrDeadLetterStreamFull].
func (d *DeadLetters) Record(ctx context.Context, dl DeadLetter) error {
	raw, err := json.Marshal(dl)
	if err != nil {
		return fmt.Errorf("jobs: encode dead letter: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	_, err = d.cfg.Publisher.Publish(pctx, DeadLetterSubject(d.cfg.SubjectPrefix, dl.TaskType, dl.TaskID), raw,
		jetstream.WithMsgID(DeadLetterMsgID(dl.TaskID, dl.Replays)), jetstream.WithExpectStream(d.cfg.Stream))
	if err != nil {
		if isStreamFull(err) {
			d.cfg.Metrics.DeadLetterWriteFailed("stream_full")
			return fmt.Errorf("%w (%s: raise WORKER_DEADLETTER_MAX_MSGS or WORKER_DEADLETTER_MAX_BYTES, or replay "+
				"or purge old dead letters; the task stays in asynq's archive meanwhile): %w",
				ErrDeadLetterStreamFull, d.cfg.Stream, err)
		}
		d.cfg.Metrics.DeadLetterWriteFailed("error")
		return fmt.Errorf("jobs: write dead letter of task %s to %s: %w", dl.TaskID, d.cfg.Stream, err)
	}
	d.cfg.Metrics.DeadLetterRecorded(dl.TaskType, dl.Reason, dl.RecordedBy)
	if err := d.cfg.Redis.Set(ctx, d.markerKey(dl.TaskID), dl.Replays, d.cfg.MarkerTTL).Err(); err != nil {
		// The record is written; without its marker a later sweep writes it
		// once more (deduplicated within the stream's window).
		d.cfg.Logger.Warn().Err(err).Str("task_id", dl.TaskID).Msg("dead letter written, but its marker was not")
	}
	return nil
}

// isStreamFull reports a publish refused because the stream reached a
// limit (DiscardNew): JetStream's "store failed" error with "maximum
// messages/bytes exceeded".
func isStreamFull(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == 10077 && strings.Contains(apiErr.Description, "maximum")
}

// SweepResult sums up one sweep.
type SweepResult struct {
	// Skipped is true when another worker held the sweep lock.
	Skipped bool
	// Seen is how many archived tasks were looked at; Recorded how many
	// records were written.
	Seen, Recorded int
	// Archived is the size of each queue's archive.
	Archived map[string]int
}

// Sweep records every archived task that has no record yet. asynq lists an
// archive oldest first (by archive time), so the sweep reads it from the
// newest page back; an incremental sweep (full false) stops at the first
// page whose tasks all have records, so it costs one page per queue when
// nothing new was archived. A full sweep reads every page, and repairs what
// an incremental one can miss: a task without a record on an older page
// than a page of recorded ones (more than a page of tasks archived since
// it, or a record that failed while newer ones succeeded).
func (d *DeadLetters) Sweep(ctx context.Context, full bool) (SweepResult, error) {
	res := SweepResult{Archived: map[string]int{}}
	lockTTL := max(d.cfg.SweepInterval/2, time.Second)
	ok, err := d.cfg.Redis.SetNX(ctx, d.lockKey(), "1", lockTTL).Result()
	if err != nil {
		return res, fmt.Errorf("jobs: dead-letter sweep lock: %w", err)
	}
	if !ok {
		res.Skipped = true
		return res, nil
	}
	existing, err := d.cfg.Inspector.Queues()
	if err != nil {
		return res, fmt.Errorf("jobs: dead-letter sweep: list queues: %w", err)
	}
	for _, q := range d.cfg.Queues {
		if !slices.Contains(existing, q) {
			continue // nothing was ever enqueued to it
		}
		if err := d.sweepQueue(ctx, q, full, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (d *DeadLetters) sweepQueue(ctx context.Context, queue string, full bool, res *SweepResult) error {
	info, err := d.cfg.Inspector.GetQueueInfo(queue)
	if err != nil {
		return fmt.Errorf("jobs: dead-letter sweep of queue %s: %w", queue, err)
	}
	res.Archived[queue] = info.Archived
	if info.Archived >= AsynqArchiveLimit*9/10 {
		d.cfg.Logger.Warn().Str("queue", queue).Int("archived", info.Archived).Int("asynq_limit", AsynqArchiveLimit).
			Msg("asynq's archive is nearly full: asynq silently drops its oldest tasks beyond the limit " +
				"(their records stay in the dead-letter stream); replay or delete dead letters")
	}
	size := d.cfg.PageSize
	for page := (info.Archived + size - 1) / size; page >= 1; page-- {
		tasks, err := d.cfg.Inspector.ListArchivedTasks(queue, asynq.Page(page), asynq.PageSize(size))
		if err != nil {
			return fmt.Errorf("jobs: list archive of queue %s: %w", queue, err)
		}
		res.Seen += len(tasks)
		n, err := d.recordMissing(ctx, tasks)
		res.Recorded += n
		if err != nil {
			return err
		}
		if n == 0 && !full {
			break
		}
	}
	return nil
}

// recordMissing writes the records of the tasks whose marker is missing or
// older than their replay count.
func (d *DeadLetters) recordMissing(ctx context.Context, tasks []*asynq.TaskInfo) (int, error) {
	keys := make([]string, len(tasks))
	for i, t := range tasks {
		keys[i] = d.markerKey(t.ID)
	}
	marks, err := d.cfg.Redis.MGet(ctx, keys...).Result()
	if err != nil {
		return 0, fmt.Errorf("jobs: dead-letter markers: %w", err)
	}
	recorded := 0
	now := d.cfg.NowFunc()
	for i, t := range tasks {
		dl := deadLetterFromInfo(t, now)
		if s, ok := marks[i].(string); ok {
			if n, err := strconv.Atoi(s); err == nil && n >= dl.Replays {
				continue
			}
		}
		if err := d.Record(ctx, dl); err != nil {
			return recorded, err
		}
		recorded++
		d.cfg.Logger.Warn().Str("task_id", t.ID).Str("task_type", t.Type).Str("queue", t.Queue).
			Str("reason", dl.Reason).Msg("archived task found by the sweep; dead letter written")
	}
	return recorded, nil
}

// Run sweeps every SweepInterval until ctx ends: a full sweep first and
// every FullSweepEvery sweeps, incremental ones between. A failed sweep is
// logged and retried at the next interval.
func (d *DeadLetters) Run(ctx context.Context) {
	t := time.NewTicker(d.cfg.SweepInterval)
	defer t.Stop()
	for n := 0; ; n++ {
		full := n%d.cfg.FullSweepEvery == 0
		res, err := d.Sweep(ctx, full)
		switch {
		case err != nil && ctx.Err() == nil:
			ev := d.cfg.Logger.Error().Err(err)
			if errors.Is(err, ErrDeadLetterStreamFull) {
				ev = ev.Bool("alert", true)
			}
			ev.Msg("dead-letter sweep failed; retrying at the next interval")
		case err == nil && res.Recorded > 0:
			d.cfg.Logger.Info().Int("recorded", res.Recorded).Int("seen", res.Seen).Bool("full", full).
				Msg("dead-letter sweep done")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
