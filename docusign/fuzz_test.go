package docusign

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func FuzzDecodeError(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "error-*.json"))
	require.NoError(f, err)
	require.NotEmpty(f, files)
	for _, name := range files {
		body, err := os.ReadFile(name)
		require.NoError(f, err)
		f.Add(400, string(body), "trace-1", "application/json")
		f.Add(429, string(body), "", "")
	}
	f.Add(502, "", "t", "text/html")
	f.Add(200, `{"errorCode":`, "t", "application/json")
	f.Add(0, "\xff\xfe", "", "")
	f.Add(-1, `{"errorDetails":{"errorDetails":{"errorDetails":{}}}}`, "x", "")
	now := time.Unix(1_773_122_400, 0)
	f.Fuzz(func(t *testing.T, status int, body, trace, contentType string) {
		h := http.Header{}
		h.Set(HeaderTraceToken, trace)
		h.Set("Content-Type", contentType)
		e := decodeError(APIAdmin, "op", status, h, []byte(body), now)
		require.NotNil(t, e)
		require.Equal(t, status, e.StatusCode)
		require.Equal(t, strings.TrimSpace(h.Get(HeaderTraceToken)), e.TraceToken)
		require.True(t, e.ErrorCode != "" || e.Message != "", "an error always says something")
		require.LessOrEqual(t, len(e.Message), maxMessageLen+len("…"))
		require.NotEmpty(t, e.Error())
		_ = IsRateLimited(e)
		_ = IsWrongEnvironment(e)
	})
}
