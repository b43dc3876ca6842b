package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
)

func TestRedisLoggerWritesJSON(t *testing.T) {
	t.Parallel()

	var out bytes.Buffer
	redisLogger{log: newLogger(&out, zerolog.WarnLevel)}.Printf(t.Context(), "redis: connection pool: failed to dial after %d attempts: %v", 5, "refused")

	var line map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &line))
	require.Equal(t, "go-redis", line["component"])
	require.Equal(t, "worker", line["service"])
	require.Equal(t, "warn", line["level"])
	require.Equal(t, "redis: connection pool: failed to dial after 5 attempts: refused", line["message"])
}
