package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/jml-sync/docusign-worker/docusign"
	"github.com/jml-sync/docusign-worker/jobs"
	"github.com/jml-sync/docusign-worker/ratelimit"
)

// config is what the flags say.
type config struct {
	authURL        string
	adminURL       string
	integrationKey string
	userID         string
	keyFile        string
	keyEnv         string
	account        string
	redisURL       string
	keyPrefix      string
	window         time.Duration
	burstWindow    time.Duration
	limit          int
	burstLimit     int
	reserve        float64
	concurrency    int
	start          time.Time
	until          time.Time
	duration       time.Duration
	priority       ratelimit.Priority
	logLevel       string
}

// summary is the JSON printed at the end.
type summary struct {
	Account     string `json:"account"`
	Calls       int64  `json:"calls"`
	OK          int64  `json:"ok"`
	Throttled   int64  `json:"throttled"`
	Errors      int64  `json:"errors"`
	LimiterWait int64  `json:"limiter_parked"`
	// FirstCall and LastCall bound the calls made.
	FirstCall time.Time `json:"first_call,omitzero"`
	LastCall  time.Time `json:"last_call,omitzero"`
	// LastError is the text of the last unexpected error, if any.
	LastError string `json:"last_error,omitempty"`
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: loadgen [flags]\n\nCalls eSignature PermissionProfiles:list on one account as fast as the shared\n"+
			"limiter allows, and prints a JSON summary when it ends.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	var start, until int64
	var prio string
	fs.StringVar(&c.authURL, "auth-url", docusign.DemoAuthBaseURL, "OAuth host (token, userinfo)")
	fs.StringVar(&c.adminURL, "admin-url", "", "Admin API base URL (unused by the calls; kept for a complete client config)")
	fs.StringVar(&c.integrationKey, "integration-key", "", "integration key (required)")
	fs.StringVar(&c.userID, "user-id", "", "impersonated user GUID (required)")
	fs.StringVar(&c.keyFile, "private-key", "", "RSA private key PEM file (or set -private-key-env)")
	fs.StringVar(&c.keyEnv, "private-key-env", "", "name of an environment variable holding the private key")
	fs.StringVar(&c.account, "account", "", "account id whose budget is spent (required)")
	fs.StringVar(&c.redisURL, "redis-url", "redis://127.0.0.1:6379/0", "Redis holding the shared limiter state")
	fs.StringVar(&c.keyPrefix, "key-prefix", ratelimit.DefaultKeyPrefix, "Redis key prefix of the limiter")
	fs.DurationVar(&c.window, "window", ratelimit.DefaultWindow, "length of the hourly window (compressed in tests)")
	fs.DurationVar(&c.burstWindow, "burst-window", ratelimit.DefaultBurstWindow, "length of the burst window")
	fs.IntVar(&c.limit, "limit", 3000, "hourly limit assumed until DocuSign's headers say otherwise")
	fs.IntVar(&c.burstLimit, "burst-limit", 500, "burst limit assumed until DocuSign's headers say otherwise")
	fs.Float64Var(&c.reserve, "reserve", ratelimit.DefaultReserve, "fraction of the hourly limit left to other integrations")
	fs.IntVar(&c.concurrency, "concurrency", 4, "calls in flight at once")
	fs.Int64Var(&start, "start", 0, "Unix time in milliseconds to start calling at (0: at once)")
	fs.Int64Var(&until, "until", 0, "Unix time in milliseconds to stop at (0: use -duration)")
	fs.DurationVar(&c.duration, "duration", time.Minute, "how long to run when -until is 0")
	fs.StringVar(&prio, "priority", "default", "limiter priority: critical, default or low")
	fs.StringVar(&c.logLevel, "log-level", "warn", "log level")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	if c.integrationKey == "" {
		errs = append(errs, errors.New("-integration-key is required"))
	}
	if c.userID == "" {
		errs = append(errs, errors.New("-user-id is required"))
	}
	if c.account == "" {
		errs = append(errs, errors.New("-account is required"))
	}
	if (c.keyFile == "") == (c.keyEnv == "") {
		errs = append(errs, errors.New("set exactly one of -private-key and -private-key-env"))
	} else if c.keyEnv != "" && getenv(c.keyEnv) == "" {
		errs = append(errs, fmt.Errorf("-private-key-env: environment variable %s is empty", c.keyEnv))
	}
	if c.concurrency < 1 {
		errs = append(errs, errors.New("-concurrency must be at least 1"))
	}
	p, err := ratelimit.ParsePriority(prio)
	if err != nil {
		errs = append(errs, fmt.Errorf("-priority: %w", err))
	}
	c.priority = p
	if start > 0 {
		c.start = time.UnixMilli(start)
	}
	if until > 0 {
		c.until = time.UnixMilli(until)
	}
	return c, errors.Join(errs...)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 2
	}
	level, err := zerolog.ParseLevel(cfg.logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: -log-level: %v\n", err)
		return 2
	}
	logger := zerolog.New(stderr).Level(level).With().Timestamp().Str("service", "loadgen").Logger()

	sum, err := generate(ctx, cfg, getenv, logger)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	if err := enc.Encode(sum); err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	return 0
}

// generate builds the client and limiter and calls until the end time.
func generate(ctx context.Context, cfg config, getenv func(string) string, logger zerolog.Logger) (summary, error) {
	var key []byte
	var err error
	if cfg.keyFile != "" {
		key, err = docusign.LoadPrivateKey(cfg.keyFile)
	} else {
		key, err = docusign.PrivateKeyFromEnvValue(getenv(cfg.keyEnv))
	}
	if err != nil {
		return summary{}, err
	}

	ropt, err := redis.ParseURL(cfg.redisURL)
	if err != nil {
		return summary{}, fmt.Errorf("-redis-url: %w", err)
	}
	rdb := redis.NewClient(ropt)
	defer rdb.Close()

	limiter, err := ratelimit.New(rdb, ratelimit.Config{
		KeyPrefix:         cfg.keyPrefix,
		Window:            cfg.window,
		BurstWindow:       cfg.burstWindow,
		DefaultLimit:      cfg.limit,
		DefaultBurstLimit: cfg.burstLimit,
		Reserve:           cfg.reserve,
	})
	if err != nil {
		return summary{}, err
	}
	client, err := docusign.New(docusign.Config{
		AuthBaseURL:    cfg.authURL,
		AdminBaseURL:   cfg.adminURL,
		IntegrationKey: cfg.integrationKey,
		UserID:         cfg.userID,
		PrivateKeyPEM:  key,
		Scopes:         []string{"signature", "impersonation"},
		Accounts:       []string{cfg.account},
		// The calls are eSignature only; naming the account avoids the
		// organization look-up.
		AdminBudgetAccountID: cfg.account,
		Hook:                 jobs.NewLimiterHook(limiter, nil),
	})
	if err != nil {
		return summary{}, err
	}
	if err := client.Verify(ctx); err != nil {
		return summary{}, err
	}

	end := cfg.until
	if !cfg.start.IsZero() {
		if err := sleepUntil(ctx, cfg.start); err != nil {
			return summary{}, err
		}
	}
	if end.IsZero() {
		end = time.Now().Add(cfg.duration)
	}
	runCtx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	runCtx = ratelimit.WithPriority(runCtx, cfg.priority)

	var s counters
	var wg sync.WaitGroup
	for range cfg.concurrency {
		wg.Go(func() { s.loop(runCtx, client.ESignature(), cfg.account, logger) })
	}
	wg.Wait()
	return s.summary(cfg.account), nil
}

// counters are shared by the calling goroutines.
type counters struct {
	calls, ok, throttled, errs, parked atomic.Int64
	first, last                        atomic.Int64 // Unix ns
	mu                                 sync.Mutex
	lastErr                            string
}

// loop calls PermissionProfiles:list until ctx ends. A limiter "retry in"
// parks the goroutine for that long; a throttled reply is counted (the quota
// test expects none).
func (s *counters) loop(ctx context.Context, api *docusign.ESignatureAPI, account string, logger zerolog.Logger) {
	for ctx.Err() == nil {
		_, err := api.ListPermissionProfiles(ctx, account)
		var retry *ratelimit.RetryError
		switch {
		case errors.As(err, &retry):
			s.parked.Add(1)
			_ = sleepUntil(ctx, time.Now().Add(retry.RetryIn))
			continue
		case ctx.Err() != nil:
			return
		}
		now := time.Now().UnixNano()
		s.calls.Add(1)
		s.first.CompareAndSwap(0, now)
		s.last.Store(now)
		switch {
		case err == nil:
			s.ok.Add(1)
		case docusign.IsRateLimited(err):
			s.throttled.Add(1)
			logger.Warn().Err(err).Msg("throttled by DocuSign")
		default:
			s.errs.Add(1)
			s.mu.Lock()
			s.lastErr = err.Error()
			s.mu.Unlock()
			logger.Error().Err(err).Msg("call failed")
			_ = sleepUntil(ctx, time.Now().Add(100*time.Millisecond))
		}
	}
}

func (s *counters) summary(account string) summary {
	out := summary{
		Account: account, Calls: s.calls.Load(), OK: s.ok.Load(), Throttled: s.throttled.Load(),
		Errors: s.errs.Load(), LimiterWait: s.parked.Load(), LastError: s.lastErr,
	}
	if f := s.first.Load(); f != 0 {
		out.FirstCall = time.Unix(0, f).UTC()
		out.LastCall = time.Unix(0, s.last.Load()).UTC()
	}
	return out
}

// sleepUntil sleeps until t or ctx ends.
func sleepUntil(ctx context.Context, t time.Time) error {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
