package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/jml-sync/docusign-worker/docusign/docusignsim"
)

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, ",") }

func (m *multiFlag) Set(v string) error {
	*m = append(*m, v)
	return nil
}

type config struct {
	seedFile        string
	publicKeyFile   string
	genKeyDir       string
	infoFile        string
	logLevel        string
	opts            docusignsim.Options
	faults          multiFlag
	foreignRates    multiFlag
	envAddrs        multiFlag
	shutdownTimeout time.Duration
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet("docusign-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: docusign-sim [flags]\n\nRuns the DocuSign simulator. Without -seed it serves the shipped demo seed; without a\n"+
			"public key (seed or -public-key) it generates a key pair for this run and prints where the\nprivate key was written.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	o := &cfg.opts
	fs.StringVar(&cfg.seedFile, "seed", "", "seed JSON file (default: the shipped demo seed)")
	fs.StringVar(&cfg.publicKeyFile, "public-key", "", "PEM file with the integration's RSA public key (overrides the seed's)")
	fs.StringVar(&cfg.genKeyDir, "gen-key", "", "write a new key pair as DIR/private.pem and DIR/public.pem, then exit")
	fs.StringVar(&cfg.infoFile, "info-file", "", "write the listeners, integration key and accounts as JSON to this file once started")
	fs.StringVar(&cfg.logLevel, "log-level", "info", "log level (debug logs one line per request)")
	fs.IntVar(&o.HourlyLimit, "hourly-limit", docusignsim.DefaultHourlyLimit, "calls per account per window")
	fs.DurationVar(&o.Window, "window", docusignsim.DefaultWindow, "length of the fixed \"hourly\" window")
	fs.IntVar(&o.BurstLimit, "burst-limit", docusignsim.DefaultBurstLimit, "calls per account per burst window")
	fs.DurationVar(&o.BurstWindow, "burst-window", docusignsim.DefaultBurstWindow, "length of the fixed burst window")
	fs.DurationVar(&o.TokenLifetime, "token-lifetime", docusignsim.DefaultTokenLifetime, "access token lifetime")
	fs.BoolVar(&o.LegacyLimitStatus, "legacy-limit-status", false, "answer exceeded limits with 400 instead of 429")
	fs.BoolVar(&o.AutoActivateUnclaimed, "auto-activate-unclaimed", false, "activate new memberships of unclaimed email domains too")
	fs.StringVar(&o.AdminBudgetAccountID, "admin-budget-account", "", "account whose budget Admin API calls spend (default: the organization's default account)")
	fs.Var(&cfg.foreignRates, "foreign-rate", "ACCOUNT_ID=N: a foreign application spends N calls per window on the account (repeatable)")
	fs.Var(&cfg.faults, "fault", "OPERATION[:error_rate=P,error_status=S,drop_rate=P,latency=D,limit=N] (repeatable; OPERATION is an operationId or *)")
	fs.StringVar(&o.AuthAddr, "auth-addr", "127.0.0.1:0", "listen address of the auth host (token, userinfo)")
	fs.StringVar(&o.AdminAddr, "admin-addr", "127.0.0.1:0", "listen address of the Admin API")
	fs.StringVar(&o.ControlAddr, "control-addr", "127.0.0.1:0", "listen address of the control endpoints (/_sim/...)")
	fs.Var(&cfg.envAddrs, "env-addr", "NAME=ADDR: listen address of an environment (repeatable; default 127.0.0.1:0)")
	fs.StringVar(&o.AdvertiseHost, "advertise-host", "", "host name to publish in URLs instead of the listen IP")
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", 5*time.Second, "how long to wait for requests in flight on shutdown")
	if err := fs.Parse(args); err != nil {
		return nil, err //nolint:wrapcheck // flag already printed it
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	var errs []error
	for _, spec := range cfg.faults {
		f, err := docusignsim.ParseFault(spec)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		o.Faults = append(o.Faults, f)
	}
	for _, kv := range cfg.foreignRates {
		id, n, ok := strings.Cut(kv, "=")
		rate, err := strconv.Atoi(n)
		if !ok || err != nil {
			errs = append(errs, fmt.Errorf("-foreign-rate %q: want ACCOUNT_ID=N", kv))
			continue
		}
		if o.ForeignRates == nil {
			o.ForeignRates = map[string]int{}
		}
		o.ForeignRates[id] = rate
	}
	for _, kv := range cfg.envAddrs {
		name, addr, ok := strings.Cut(kv, "=")
		if !ok || name == "" || addr == "" {
			errs = append(errs, fmt.Errorf("-env-addr %q: want NAME=ADDR", kv))
			continue
		}
		if o.EnvironmentAddrs == nil {
			o.EnvironmentAddrs = map[string]string{}
		}
		o.EnvironmentAddrs[name] = addr
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

// run is the whole command; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "docusign-sim: %v\n", err)
		return 2
	}
	if cfg.genKeyDir != "" {
		priv, pub, err := writeKeyPair(cfg.genKeyDir)
		if err != nil {
			fmt.Fprintf(stderr, "docusign-sim: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "wrote %s and %s\n", priv, pub)
		return 0
	}
	if err := serve(ctx, cfg, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "docusign-sim: %v\n", err)
		return 1
	}
	return 0
}

// writeKeyPair writes a new key pair into dir (private key mode 0600).
func writeKeyPair(dir string) (privPath, pubPath string, err error) {
	priv, pub, err := docusignsim.GenerateKeyPair()
	if err != nil {
		return "", "", err //nolint:wrapcheck // already prefixed
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("create key directory: %w", err)
	}
	privPath, pubPath = filepath.Join(dir, "private.pem"), filepath.Join(dir, "public.pem")
	if err := os.WriteFile(privPath, priv, 0o600); err != nil {
		return "", "", fmt.Errorf("write private key: %w", err)
	}
	if err := os.WriteFile(pubPath, pub, 0o644); err != nil { //nolint:gosec // a public key
		return "", "", fmt.Errorf("write public key: %w", err)
	}
	return privPath, pubPath, nil
}

func serve(ctx context.Context, cfg *config, stdout, stderr io.Writer) error {
	level, err := zerolog.ParseLevel(cfg.logLevel)
	if err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	cfg.opts.Logger = zerolog.New(stderr).Level(level).With().Timestamp().Str("service", "docusign-sim").Logger()
	seed, err := docusignsim.DefaultSeed()
	if cfg.seedFile != "" {
		seed, err = docusignsim.LoadSeed(cfg.seedFile)
	}
	if err != nil {
		return err //nolint:wrapcheck // already prefixed
	}
	cfg.opts.Seed = seed
	generatedKey := ""
	switch {
	case cfg.publicKeyFile != "":
		if cfg.opts.PublicKeyPEM, err = os.ReadFile(cfg.publicKeyFile); err != nil {
			return fmt.Errorf("read public key: %w", err)
		}
	case seed.PublicKeyPEM == "":
		dir, err := os.MkdirTemp("", "docusign-sim-keys-")
		if err != nil {
			return fmt.Errorf("create key directory: %w", err)
		}
		defer os.RemoveAll(dir)
		priv, pub, err := writeKeyPair(dir)
		if err != nil {
			return err
		}
		if cfg.opts.PublicKeyPEM, err = os.ReadFile(pub); err != nil {
			return fmt.Errorf("read public key: %w", err)
		}
		generatedKey = priv
	}
	srv, err := docusignsim.Start(cfg.opts)
	if err != nil {
		return err //nolint:wrapcheck // already prefixed
	}
	info := srv.Info()
	printInfo(stdout, info, generatedKey)
	if cfg.infoFile != "" {
		data, err := json.MarshalIndent(infoFile{Info: info, PrivateKeyFile: generatedKey}, "", "  ")
		if err == nil {
			err = os.WriteFile(cfg.infoFile, data, 0o600)
		}
		if err != nil {
			_ = srv.Close()
			return fmt.Errorf("write info file: %w", err)
		}
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "docusign-sim: shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.shutdownTimeout)
	defer cancel()
	return srv.Shutdown(sctx) //nolint:wrapcheck // already prefixed
}

// infoFile is what -info-file writes.
type infoFile struct {
	docusignsim.Info
	// PrivateKeyFile is the generated private key of this run ("" when a key was supplied).
	PrivateKeyFile string `json:"private_key_file,omitempty"`
}

func printInfo(w io.Writer, info docusignsim.Info, generatedKey string) {
	fmt.Fprintf(w, "docusign-sim: listening\n")
	fmt.Fprintf(w, "  auth (token, userinfo)  %s   (JWT aud: %s)\n", info.AuthURL, info.AuthHost)
	fmt.Fprintf(w, "  admin API               %s\n", info.AdminURL)
	for _, e := range info.Environments {
		fmt.Fprintf(w, "  environment %-11s %s\n", e.Name, e.BaseURI)
	}
	fmt.Fprintf(w, "  control                 %s/_sim/state\n", info.ControlURL)
	fmt.Fprintf(w, "  integration key         %s\n", info.IntegrationKey)
	fmt.Fprintf(w, "  organization            %s\n", info.OrganizationID)
	for _, a := range info.Accounts {
		fmt.Fprintf(w, "  account                 %s %q in %s\n", a.ID, a.Name, a.Environment)
	}
	for _, id := range info.AdminUserIDs {
		fmt.Fprintf(w, "  admin user (JWT sub)    %s\n", id)
	}
	if generatedKey != "" {
		fmt.Fprintf(w, "  private key             %s (generated for this run, removed on exit)\n", generatedKey)
	}
}
