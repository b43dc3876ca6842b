// Package jobs is the asynq contract of the worker: task types, payloads and
// their constructors, and (as the pipeline grows) the handlers that apply them
// to DocuSign.
//
// # Task identity
//
// Every task is derived from one HR event. Its TaskID is the hex SHA-256 of
// the event's source, id and the task type (see [TaskID]), and completed
// tasks are retained ([DefaultRetention], 7 days), so a redelivered or
// re-published event yields asynq.ErrTaskIDConflict, which the intake treats
// as "already enqueued".
//
// # Queues
//
// Leavers ([TypeUserClose]) run on [QueueCritical]; joiners and movers on
// [QueueDefault]; backfills on [QueueLow].
package jobs
