package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"
)

// ReplayInspector is what a replay needs of asynq's Inspector.
type ReplayInspector interface {
	GetTaskInfo(queue, id string) (*asynq.TaskInfo, error)
	DeleteTask(queue, id string) error
}

// ReplayEnqueuer enqueues the replayed task; *asynq.Client implements it.
type ReplayEnqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Outcomes of [ReplayDeadLetter].
const (
	// ReplayEnqueued: the task was enqueued again with a fresh retry count.
	ReplayEnqueued = "replayed"
	// ReplayAlreadyQueued: the task is already back in its queue (an earlier
	// replay, or a run from the dashboard); nothing was changed.
	ReplayAlreadyQueued = "already_replayed"
)

// ReplayDeadLetter enqueues an archived task again from its dead-letter
// record with a fresh retry count: asynq's own RunTask keeps the old count,
// and an archived TaskID blocks a plain enqueue. It deletes the archived task
// (if asynq still has it), then enqueues a task with the same TaskID, queue
// and MaxRetry and the payload's Replays incremented. It is idempotent: a
// task already back in its queue (pending, scheduled, retrying, running or
// completed) is left alone and reported as [ReplayAlreadyQueued]. opts gives
// the retention; its Queue and MaxRetry are taken from the record.
func ReplayDeadLetter(ctx context.Context, insp ReplayInspector, enq ReplayEnqueuer, dl DeadLetter, opts TaskOptions) (string, error) {
	var p Payload
	if err := json.Unmarshal(dl.Payload, &p); err != nil {
		return "", fmt.Errorf("jobs: replay %s: payload does not decode (%w): republish the HR event instead", dl.TaskID, err)
	}
	if id := TaskID(p.EventSource, p.EventID, dl.TaskType); id != dl.TaskID {
		return "", fmt.Errorf("jobs: replay %s: the record's payload belongs to task %s: the record is corrupt", dl.TaskID, id)
	}
	info, err := insp.GetTaskInfo(dl.Queue, dl.TaskID)
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		// asynq trimmed its archive, or it was deleted: the record is enough.
	case err != nil:
		return "", fmt.Errorf("jobs: replay %s: look up the task: %w", dl.TaskID, err)
	case info.State != asynq.TaskStateArchived:
		return ReplayAlreadyQueued, nil
	default:
		if err := insp.DeleteTask(dl.Queue, dl.TaskID); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
			return "", fmt.Errorf("jobs: replay %s: delete the archived task: %w", dl.TaskID, err)
		}
	}
	p.Replays = dl.Replays + 1
	opts.Queue = dl.Queue
	if dl.MaxRetry > 0 {
		opts.MaxRetry = dl.MaxRetry
	}
	task, err := NewTask(dl.TaskType, p, opts)
	if err != nil {
		return "", fmt.Errorf("jobs: replay %s: %w", dl.TaskID, err)
	}
	if _, err := enq.EnqueueContext(ctx, task); err != nil {
		if errors.Is(err, asynq.ErrTaskIDConflict) {
			return ReplayAlreadyQueued, nil
		}
		return "", fmt.Errorf("jobs: replay %s: enqueue: %w", dl.TaskID, err)
	}
	return ReplayEnqueued, nil
}
