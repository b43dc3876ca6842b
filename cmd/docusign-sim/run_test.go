package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/internal/testenv"
)

// syncBuffer is an io.Writer safe for the command and the test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p) //nolint:wrapcheck // bytes.Buffer never fails
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestGenKey(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "keys")
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(t.Context(), []string{"-gen-key", dir}, &out, &errOut), errOut.String())
	priv, err := os.ReadFile(filepath.Join(dir, "private.pem"))
	require.NoError(t, err)
	block, _ := pem.Decode(priv)
	require.NotNil(t, block)
	_, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	require.NoError(t, err)
	st, err := os.Stat(filepath.Join(dir, "private.pem"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	require.NotContains(t, out.String(), "PRIVATE KEY", "the key itself is never printed")
}

func TestBadFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "unknown flag", args: []string{"-nope"}, want: "flag provided but not defined"},
		{name: "bad fault", args: []string{"-fault", "X:error_rate=2"}, want: "sum to at most 1"},
		{name: "bad foreign rate", args: []string{"-foreign-rate", "abc"}, want: "want ACCOUNT_ID=N"},
		{name: "bad env addr", args: []string{"-env-addr", "na2"}, want: "want NAME=ADDR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			require.Equal(t, 2, run(t.Context(), tt.args, &out, &errOut))
			require.Contains(t, errOut.String(), tt.want)
		})
	}
	var out, errOut bytes.Buffer
	require.Equal(t, 1, run(t.Context(), []string{"-seed", filepath.Join(t.TempDir(), "missing.json")}, &out, &errOut))
	require.Contains(t, errOut.String(), "read seed")
}

// TestServeDemoSeed starts the command as `go run ./cmd/docusign-sim` would, with the shipped
// seed and a generated key, reads where it listens, calls it and stops it with the context.
func TestServeDemoSeed(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	infoPath := filepath.Join(t.TempDir(), "info.json")
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-info-file", infoPath, "-hourly-limit", "600", "-window", "60s",
			"-fault", "Users_PostUsers:latency=1ms", "-foreign-rate", "159b8cdb-5f4a-4f2f-8e61-d9fb90cf2a63=120"}, &out, &errOut)
	}()
	testenv.WaitFor(t, 10*time.Second, "the condition", func() bool {
		_, err := os.Stat(infoPath)
		return err == nil
	})
	text := out.String()
	for _, want := range []string{"auth (token, userinfo)", "admin API", "environment na2", "environment eu", "control", "private key"} {
		require.Contains(t, text, want)
	}
	keyPath := regexp.MustCompile(`private key\s+(\S+)`).FindStringSubmatch(text)[1]
	_, err := os.Stat(keyPath)
	require.NoError(t, err, "the generated private key exists while the simulator runs")

	data, err := os.ReadFile(infoPath)
	require.NoError(t, err)
	var info struct {
		ControlURL     string `json:"control_url"`
		PrivateKeyFile string `json:"private_key_file"`
		Environments   []struct {
			Name string `json:"name"`
		} `json:"environments"`
	}
	require.NoError(t, json.Unmarshal(data, &info))
	require.Equal(t, keyPath, info.PrivateKeyFile)
	require.Len(t, info.Environments, 2)

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, info.ControlURL+"/_sim/state", nil)
	require.NoError(t, err)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	var st struct {
		Budgets []struct {
			AccountID   string `json:"account_id"`
			HourlyLimit int    `json:"hourly_limit"`
			ForeignRate int    `json:"foreign_rate"`
		} `json:"budgets"`
		Faults []struct {
			Operation string `json:"operation"`
			Latency   string `json:"latency"`
		} `json:"faults"`
	}
	require.NoError(t, json.Unmarshal(body, &st))
	require.Len(t, st.Budgets, 2, "one budget per account")
	for _, b := range st.Budgets {
		require.Equal(t, 600, b.HourlyLimit)
		if b.AccountID == "159b8cdb-5f4a-4f2f-8e61-d9fb90cf2a63" {
			require.Equal(t, 120, b.ForeignRate)
		} else {
			require.Equal(t, 0, b.ForeignRate)
		}
	}
	require.Equal(t, "Users_PostUsers", st.Faults[0].Operation)
	require.Equal(t, "1ms", st.Faults[0].Latency)

	cancel()
	select {
	case code := <-done:
		require.Equal(t, 0, code, errOut.String())
	case <-time.After(10 * time.Second):
		require.FailNow(t, "the simulator did not stop")
	}
	_, err = os.Stat(keyPath)
	require.True(t, os.IsNotExist(err), "the generated key is removed on exit")
}
