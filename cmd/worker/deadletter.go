package main

import (
	"context"
	"time"

	"github.com/hibiken/asynq"

	"github.com/jml-sync/docusign-worker/jobs"
)

// startDeadLetters builds the dead-letter writer (records of archived tasks on the dead-letter stream) and starts
// its periodic sweep of asynq's archive; stopDeadLetters ends the sweep.
func (w *worker) startDeadLetters(queues []string) error {
	dl, err := jobs.NewDeadLetters(jobs.DeadLetterConfig{
		Publisher:     w.js,
		Stream:        w.cfg.DeadLetterStream,
		SubjectPrefix: w.cfg.DeadLetterPrefix,
		Redis:         w.rdb,
		KeyPrefix:     w.cfg.jobsPrefix(),
		Inspector:     w.inspector,
		Queues:        queues,
		SweepInterval: w.cfg.DeadLetterSweepInterval,
		Metrics:       w.metrics,
		Logger:        *w.component("deadletter"),
	})
	if err != nil {
		return err //nolint:wrapcheck // prefixed by jobs
	}
	w.deadLetters = dl
	ctx, cancel := context.WithCancel(context.Background())
	w.sweepStop = cancel
	w.sweepDone = make(chan struct{})
	go func() {
		defer close(w.sweepDone)
		dl.Run(ctx)
	}()
	return nil
}

func (w *worker) stopDeadLetters() {
	if w.sweepStop != nil {
		w.sweepStop()
		<-w.sweepDone
	}
}

// taskFailed is asynq's ErrorHandler. It is called for every failed run; the jobs middleware has already logged
// and counted it. It acts only on runs that asynq is about to archive (it archives when the error wraps SkipRetry
// or the retries are used up): their dead-letter record is written now, before asynq archives them. When it
// cannot be written, the sweep writes it later from the archive.
func (w *worker) taskFailed(ctx context.Context, t *asynq.Task, err error) {
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	if !willArchive(err, retried, maxRetry) {
		return
	}
	id, _ := asynq.GetTaskID(ctx)
	queue, _ := asynq.GetQueueName(ctx)
	dl := jobs.NewDeadLetter(jobs.ArchivedRun{TaskID: id, TaskType: t.Type(), Queue: queue, Retried: retried,
		MaxRetry: maxRetry, Payload: t.Payload(), Err: err}, time.Now())
	w.metrics.archived.WithLabelValues(t.Type(), queue, dl.Reason).Inc()
	if rerr := w.deadLetters.Record(context.WithoutCancel(ctx), dl); rerr != nil {
		w.component("deadletter").Error().Err(rerr).Str("task_id", id).Bool("alert", true).
			Msg("cannot write the dead-letter record of an archived task now; the archive sweep retries")
	}
}
