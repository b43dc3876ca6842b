package main

import (
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/jml-sync/docusign-worker/docusign/docusignsim"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// go-redis closes its pool reaper asynchronously.
		goleak.IgnoreTopFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).reaper"),
	)
}

// keyPair is generated once per test binary (RSA key generation is slow under -race).
var keyPair = sync.OnceValues(func() ([2][]byte, error) { //nolint:gochecknoglobals // test fixture
	priv, pub, err := docusignsim.GenerateKeyPair()
	return [2][]byte{priv, pub}, err
})
