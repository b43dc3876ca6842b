package docusignsim_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/docusign/docusignsim"
)

// BenchmarkESignGetUser measures the simulator's throughput for an authenticated, rate-limited
// eSignature call over loopback (limits high enough never to trip).
func BenchmarkESignGetUser(b *testing.B) {
	env := setup(b, func(o *docusignsim.Options) {
		o.HourlyLimit = 1 << 30
		o.BurstLimit = 1 << 30
		o.CallLogLimit = -1
	})
	tok := env.token(b)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	b.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}
	target := env.esURL("na2", demoNA2, "/users/"+demoAdmin)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, err := http.NewRequestWithContext(b.Context(), http.MethodGet, target, nil)
			require.NoError(b, err)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := hc.Do(req)
			require.NoError(b, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			require.Equal(b, http.StatusOK, resp.StatusCode)
		}
	})
}
