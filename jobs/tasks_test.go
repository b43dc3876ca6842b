package jobs_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/jobs"
)

func TestTaskID(t *testing.T) {
	t.Parallel()

	sum := sha256.Sum256([]byte("hris\x00evt-1\x00docusign:user:create"))
	require.Equal(t, hex.EncodeToString(sum[:]), jobs.TaskID("hris", "evt-1", jobs.TypeUserCreate))
	require.NotContains(t, jobs.TaskID("a-b", "c-d", jobs.TypeUserClose), "-")
	// The NUL separator keeps ("ab","c") and ("a","bc") apart.
	require.NotEqual(t, jobs.TaskID("ab", "c", jobs.TypeUserCreate), jobs.TaskID("a", "bc", jobs.TypeUserCreate))
	require.NotEqual(t, jobs.TaskID("s", "1", jobs.TypeUserCreate), jobs.TaskID("s", "1", jobs.TypeMembershipSet))
}

func validPayload() jobs.Payload {
	return jobs.Payload{
		EventSource: "hris",
		EventID:     "evt-1",
		EventType:   "hr.employee.joined",
		EventTime:   time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC),
		Employee:    jobs.Employee{EmployeeID: "E1", Email: "ada@corp.example", FirstName: "Ada", LastName: "Lovelace"},
		Accounts:    []jobs.Membership{{AccountID: "acct-1", PermissionProfile: "DocuSign Sender"}},
	}
}

func TestNewTask(t *testing.T) {
	t.Parallel()

	now := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }

	t.Run("create goes to default queue with retention", func(t *testing.T) {
		t.Parallel()
		task, err := jobs.NewTask(jobs.TypeUserCreate, validPayload(), jobs.TaskOptions{Now: clock})
		require.NoError(t, err)
		require.Equal(t, jobs.TypeUserCreate, task.Type())
		got, err := jobs.DecodePayload(task)
		require.NoError(t, err)
		require.Equal(t, validPayload(), got)
	})

	t.Run("close needs no email nor accounts", func(t *testing.T) {
		t.Parallel()
		p := validPayload()
		p.Employee = jobs.Employee{EmployeeID: "E1"}
		p.Accounts = nil
		_, err := jobs.NewTask(jobs.TypeUserClose, p, jobs.TaskOptions{Now: clock})
		require.NoError(t, err)
		require.Equal(t, jobs.QueueCritical, jobs.QueueFor(jobs.TypeUserClose))
	})

	t.Run("every problem reported at once", func(t *testing.T) {
		t.Parallel()
		p := validPayload()
		p.EventID = ""
		p.Employee.Email = ""
		p.Accounts = []jobs.Membership{{PermissionProfile: "x", PermissionProfileID: "1"}}
		_, err := jobs.NewTask(jobs.TypeMembershipSet, p, jobs.TaskOptions{Now: clock})
		require.ErrorContains(t, err, "event_id is empty")
		require.ErrorContains(t, err, "employee.email is empty")
		require.ErrorContains(t, err, "accounts[0].account_id is empty")
		require.ErrorContains(t, err, "not both")
	})

	t.Run("unknown type", func(t *testing.T) {
		t.Parallel()
		_, err := jobs.NewTask("docusign:user:delete", validPayload(), jobs.TaskOptions{Now: clock})
		require.ErrorContains(t, err, "unknown task type")
	})

	t.Run("effective time", func(t *testing.T) {
		t.Parallel()
		p := validPayload()
		require.Equal(t, p.EventTime, p.Effective())
		p.EffectiveAt = now.Add(time.Hour)
		require.Equal(t, now.Add(time.Hour), p.Effective())
	})
}

// TestNewTaskOptionsReachRedis checks the options through a real enqueue:
// TaskID, queue, retention and ProcessAt for a future effective time.
func TestNewTaskOptionsReachRedis(t *testing.T) {
	t.Parallel()
	rdb := mustRedis(t)
	client := asynq.NewClientFromRedisClient(rdb)

	now := time.Now()
	p := validPayload()
	p.EventID = "evt-" + now.Format(time.RFC3339Nano)
	p.EffectiveAt = now.Add(time.Hour).Truncate(time.Second)
	task, err := jobs.NewTask(jobs.TypeUserClose, p, jobs.TaskOptions{Queue: uniqueQueue(t, rdb)})
	require.NoError(t, err)
	info, err := client.Enqueue(task)
	require.NoError(t, err)
	require.Equal(t, jobs.TaskID(p.EventSource, p.EventID, jobs.TypeUserClose), info.ID)
	require.Equal(t, asynq.TaskStateScheduled, info.State)
	require.True(t, p.EffectiveAt.Equal(info.NextProcessAt))
	require.Equal(t, jobs.DefaultRetention, info.Retention)
	require.Equal(t, jobs.MaxRetryFor(jobs.DefaultRetryLimit), info.MaxRetry, "one above the limit the middleware enforces")

	_, err = client.Enqueue(task)
	require.ErrorIs(t, err, asynq.ErrTaskIDConflict)
}
