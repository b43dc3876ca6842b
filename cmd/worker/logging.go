package main

import (
	"context"
	"fmt"
	"io"

	"github.com/rs/zerolog"
)

// newLogger is the worker's JSON logger; every line carries service=worker.
func newLogger(w io.Writer, level zerolog.Level) zerolog.Logger {
	return zerolog.New(w).Level(level).With().Timestamp().Str("service", "worker").Logger()
}

// asynqLogger adapts zerolog to asynq's Logger interface (asynq formats its own messages).
type asynqLogger struct{ l zerolog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug().Msg(fmt.Sprint(args...)) }
func (a asynqLogger) Info(args ...any)  { a.l.Info().Msg(fmt.Sprint(args...)) }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn().Msg(fmt.Sprint(args...)) }
func (a asynqLogger) Error(args ...any) { a.l.Error().Msg(fmt.Sprint(args...)) }

// Fatal logs and exits, as asynq's Logger contract requires.
func (a asynqLogger) Fatal(args ...any) { a.l.Fatal().Msg(fmt.Sprint(args...)) }

// natsServerLogger adapts zerolog to the embedded NATS server's Logger. The server's notices (a banner of a
// dozen lines at start) go to debug; warnings and errors keep their level; a "fatal" error is logged as an error
// without exiting: the worker notices a dead server through its connection and readiness.
type natsServerLogger struct{ l zerolog.Logger }

func (n natsServerLogger) Noticef(format string, v ...any) { n.l.Debug().Msgf(format, v...) }
func (n natsServerLogger) Warnf(format string, v ...any)   { n.l.Warn().Msgf(format, v...) }
func (n natsServerLogger) Errorf(format string, v ...any)  { n.l.Error().Msgf(format, v...) }
func (n natsServerLogger) Fatalf(format string, v ...any) {
	n.l.Error().Bool("fatal", true).Msgf(format, v...)
}
func (n natsServerLogger) Debugf(format string, v ...any) { n.l.Trace().Msgf(format, v...) }
func (n natsServerLogger) Tracef(format string, v ...any) { n.l.Trace().Msgf(format, v...) }

// redisLogger sends go-redis's own messages (failed dials during an outage,
// pool events) through zerolog, so every line the worker writes is JSON.
type redisLogger struct{ log zerolog.Logger }

// Printf implements go-redis's logging interface.
func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Warn().Str("component", "go-redis").Msg(fmt.Sprintf(format, v...))
}
