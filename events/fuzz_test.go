package events_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/events"
	"github.com/jml-sync/docusign-worker/jobs"
)

// FuzzDecodeEvent checks that the decoder never panics, that every failure
// is a *DecodeError with a known reason, and that an accepted event is
// stable: decoding it again, or decoding its encoding, gives the same
// event, and its task can be built.
func FuzzDecodeEvent(f *testing.F) {
	files, err := filepath.Glob("testdata/*.json")
	require.NoError(f, err)
	for _, name := range files {
		b, err := os.ReadFile(name)
		require.NoError(f, err)
		f.Add(b, false, "")
		f.Add(b, true, events.TypeLeft)
	}
	f.Add([]byte(`{"employee_id":"E1001"}`), true, events.TypeLeft)
	f.Add([]byte(`{"employee_id":"E1001","email":"a@b","first_name":"A","last_name":"B","accounts":[{"account_id":"1"}]}`), true, events.TypeJoined)
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"s","type":"hr.employee.left","subject":"E","time":"2026-11-01T00:00:00+00:00","data":{"employee_id":"E"}}`), false, "")
	f.Add([]byte(`{"specversion":"1.0","id":"1","ID":"2"}`), false, "")
	f.Add([]byte(`[]`), false, "")
	f.Add([]byte(`{"a":1}{"b":2}`), true, "x")

	dec, err := events.NewDecoder(8 << 10)
	require.NoError(f, err)
	now := func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

	f.Fuzz(func(t *testing.T, body []byte, binary bool, ceType string) {
		var h nats.Header
		if binary {
			h = nats.Header{}
			h.Set("ce-specversion", "1.0")
			h.Set("ce-id", "evt-fuzz")
			h.Set("ce-source", "hris")
			h.Set("ce-type", ceType)
			h.Set("ce-subject", "E1001")
			h.Set("ce-time", "2026-11-01T09:00:00Z")
		}
		ev, err := dec.Decode(h, body)
		if err != nil {
			r, ok := events.ReasonOf(err)
			require.True(t, ok, "not a DecodeError: %v", err)
			require.Contains(t, events.Reasons(), r)
			var de *events.DecodeError
			require.ErrorAs(t, err, &de)
			require.NotEmpty(t, de.Message)
			return
		}
		again, err := dec.Decode(h, body)
		require.NoError(t, err)
		require.Equal(t, ev, again)

		enc, err := ev.Encode()
		require.NoError(t, err)
		if len(enc) <= 8<<10 {
			round, err := dec.Decode(nil, enc)
			require.NoError(t, err, "encoding %s", enc)
			require.Equal(t, ev, round)
		}

		require.Equal(t, ev.Subject, ev.Data.EmployeeID)
		require.False(t, strings.ContainsAny(ev.Type, " \n"))
		if ev.Type == events.TypeCancelled {
			require.NotEmpty(t, ev.Data.Cancels)
			return
		}
		task, err := ev.Task(jobs.TaskOptions{Now: now})
		require.NoError(t, err)
		p, err := jobs.DecodePayload(task)
		require.NoError(t, err)
		require.Equal(t, ev.ID, p.EventID)
	})
}
