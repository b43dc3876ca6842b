package events

import (
	"errors"
	"fmt"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"
)

// fakeInspector answers GetTaskInfo with a sequence of states (the task
// may move between the look-up and the delete) and DeleteTask with err.
type fakeInspector struct {
	states    []asynq.TaskState // consumed one per GetTaskInfo; nil: not found
	getErr    error
	deleteErr error
	deleted   int
}

func (f *fakeInspector) GetTaskInfo(queue, id string) (*asynq.TaskInfo, error) {
	if f.getErr != nil {
		return nil, f.getErr
	}
	if len(f.states) == 0 {
		return nil, fmt.Errorf("asynq: %w", asynq.ErrTaskNotFound)
	}
	s := f.states[0]
	if len(f.states) > 1 {
		f.states = f.states[1:]
	}
	return &asynq.TaskInfo{ID: id, Queue: queue, State: s}, nil
}

func (f *fakeInspector) DeleteTask(string, string) error {
	if f.deleteErr != nil {
		return f.deleteErr
	}
	f.deleted++
	return nil
}

func TestDeleteTask(t *testing.T) {
	t.Parallel()
	down := errors.New("dial tcp: connection refused")
	tests := []struct {
		name        string
		insp        fakeInspector
		want        deleteOutcome
		wantErr     bool
		wantDeleted int
	}{
		{name: "not found", want: deleteNotFound},
		{name: "queue not found", insp: fakeInspector{getErr: fmt.Errorf("asynq: %w", asynq.ErrQueueNotFound)}, want: deleteNotFound},
		{name: "scheduled", insp: fakeInspector{states: []asynq.TaskState{asynq.TaskStateScheduled}}, want: deleteDone, wantDeleted: 1},
		{name: "pending", insp: fakeInspector{states: []asynq.TaskState{asynq.TaskStatePending}}, want: deleteDone, wantDeleted: 1},
		{name: "retry", insp: fakeInspector{states: []asynq.TaskState{asynq.TaskStateRetry}}, want: deleteDone, wantDeleted: 1},
		{name: "active", insp: fakeInspector{states: []asynq.TaskState{asynq.TaskStateActive}}, want: deleteTooLate},
		{name: "completed", insp: fakeInspector{states: []asynq.TaskState{asynq.TaskStateCompleted}}, want: deleteTooLate},
		{name: "archived", insp: fakeInspector{states: []asynq.TaskState{asynq.TaskStateArchived}}, want: deleteTooLate},
		{name: "started between look-up and delete", insp: fakeInspector{
			states:    []asynq.TaskState{asynq.TaskStateScheduled, asynq.TaskStateActive},
			deleteErr: errors.New("asynq: cannot delete task in active state"),
		}, want: deleteTooLate},
		{name: "gone between look-up and delete", insp: fakeInspector{
			states:    []asynq.TaskState{asynq.TaskStatePending},
			deleteErr: fmt.Errorf("asynq: %w", asynq.ErrTaskNotFound),
		}, want: deleteNotFound},
		{name: "redis down on look-up", insp: fakeInspector{getErr: down}, wantErr: true},
		{name: "redis down on delete", insp: fakeInspector{
			states: []asynq.TaskState{asynq.TaskStateScheduled}, deleteErr: down,
		}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			insp := tt.insp
			c := &Consumer{b: Backends{Inspector: &insp}}
			got, err := c.deleteTask("critical", "id")
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.wantDeleted, insp.deleted)
		})
	}
}
