package events

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/jobs"
)

func TestConfigDefaults(t *testing.T) {
	t.Parallel()

	var c Config
	c.setDefaults()
	require.NoError(t, c.validate())
	require.Equal(t, "HR", c.Stream)
	require.Equal(t, []string{"hr.employee.>"}, c.Subjects)
	require.Equal(t, "DEADLETTER", c.DeadLetterStream)
	require.Equal(t, 365*24*time.Hour, c.DeadLetterMaxAge)
	require.Equal(t, "provisioner", c.Durable)
	require.Equal(t, 30*time.Second, c.AckWait)
	require.Empty(t, c.BackOff)
	require.Equal(t, 8, c.PullMaxMessages)
	require.Equal(t, 64<<10, c.MaxEventBytes)
	require.Equal(t, jobs.DefaultRetention+24*time.Hour, c.TombstoneTTL)

	t.Run("ack wait follows back-off", func(t *testing.T) {
		t.Parallel()
		c := Config{BackOff: []time.Duration{5 * time.Second, time.Minute}}
		c.setDefaults()
		require.NoError(t, c.validate())
		require.Equal(t, 5*time.Second, c.AckWait)
	})
}

func TestSubjects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		subject   string
		wildcards bool
		valid     bool
	}{
		{name: "plain", subject: "hr.employee.joined", valid: true},
		{name: "full wildcard last", subject: "hr.employee.>", wildcards: true, valid: true},
		{name: "token wildcard", subject: "hr.*.joined", wildcards: true, valid: true},
		{name: "wildcard not allowed", subject: "deadletter.>", valid: false},
		{name: "full wildcard not last", subject: "hr.>.x", wildcards: true, valid: false},
		{name: "empty token", subject: "hr..x", wildcards: true, valid: false},
		{name: "space", subject: "hr employee", valid: false},
		{name: "wildcard inside token", subject: "hr.emp*", wildcards: true, valid: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.valid, validSubject(tt.subject, tt.wildcards))
		})
	}

	require.True(t, subjectsOverlap("deadletter.>", "deadletter.>"))
	require.True(t, subjectsOverlap(">", "deadletter.>"))
	require.True(t, subjectsOverlap("*.intake.x", "deadletter.>"))
	require.False(t, subjectsOverlap("hr.employee.>", "deadletter.>"))
	require.False(t, subjectsOverlap("deadletter", "deadletter.>"))
}
