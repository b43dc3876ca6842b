package main

import (
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
)

// natsReadyTimeout bounds the embedded server's start.
const natsReadyTimeout = 10 * time.Second

// startEmbeddedNATS runs a NATS server with JetStream inside the process, storing under cfg.NATSDataDir and
// listening on cfg.NATSListen (port 0 or -1: any free port) so that cmd/enqueue and HR publishers reach it.
func startEmbeddedNATS(cfg *Config, logger zerolog.Logger) (*server.Server, error) {
	if err := os.MkdirAll(cfg.NATSDataDir, 0o750); err != nil {
		return nil, fmt.Errorf("nats: create WORKER_NATS_DATA_DIR %s: %w", cfg.NATSDataDir, err)
	}
	port := cfg.natsPort
	if port == 0 {
		port = server.RANDOM_PORT // 0 would mean 4222 to the server
	}
	srv, err := server.NewServer(&server.Options{
		ServerName: "docusign-worker",
		Host:       cfg.natsHost,
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.NATSDataDir,
		NoSigs:     true, // the worker owns signals and shuts the server down last
	})
	if err != nil {
		return nil, fmt.Errorf("nats: embedded server: %w", err)
	}
	srv.SetLogger(natsServerLogger{l: logger.With().Str("component", "nats-server").Logger()}, false, false)
	srv.Start()
	if !srv.ReadyForConnections(natsReadyTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("nats: embedded server not ready after %v on %s (is the port taken? set WORKER_NATS_LISTEN, "+
			"or WORKER_NATS_URL to use an external server)", natsReadyTimeout, cfg.NATSListen)
	}
	return srv, nil
}

// connectNATS connects to the embedded server in process, or to cfg.NATSURL, reconnecting forever.
func connectNATS(cfg *Config, embedded *server.Server, logger zerolog.Logger) (*nats.Conn, error) {
	log := logger.With().Str("component", "nats").Logger()
	opts := []nats.Option{
		nats.Name("docusign-worker " + version),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn().Err(err).Msg("nats: disconnected; reconnecting")
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info().Str("url", nc.ConnectedUrlRedacted()).Msg("nats: reconnected")
		}),
	}
	url := cfg.NATSURL
	if embedded != nil {
		url = embedded.ClientURL()
		opts = append(opts, nats.InProcessServer(embedded))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats: connect to %s: %w (check WORKER_NATS_URL)", redactURLs(url), err)
	}
	return nc, nil
}
