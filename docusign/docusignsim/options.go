package docusignsim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/rs/zerolog"
)

// Defaults of Options.
const (
	DefaultHourlyLimit   = 3000
	DefaultWindow        = time.Hour
	DefaultBurstLimit    = 500
	DefaultBurstWindow   = 30 * time.Second
	DefaultTokenLifetime = time.Hour
	DefaultCallLogLimit  = 10000
	defaultAddr          = "127.0.0.1:0"
)

// Options configure a simulator. The zero value is usable once a public key is supplied: it
// serves the demo seed on loopback with DocuSign's production limits.
type Options struct {
	// Seed is the initial state; nil means DefaultSeed().
	Seed *Seed
	// PublicKeyPEM is the integration's RSA public key; it overrides the seed's key.
	PublicKeyPEM []byte

	// HourlyLimit is the per-account call budget per Window (default 3000).
	HourlyLimit int
	// Window is the length of the fixed, aligned "hourly" window (default 1h); tests shorten it
	// to run a compressed hour.
	Window time.Duration
	// BurstLimit is the per-account budget per BurstWindow (default 500).
	BurstLimit int
	// BurstWindow is the length of the fixed, aligned burst window (default 30s).
	BurstWindow time.Duration
	// LegacyLimitStatus answers an exceeded limit with 400 instead of 429 (same body).
	LegacyLimitStatus bool
	// AdminBudgetAccountID is the account whose budget Admin API calls spend (default: the
	// organization's default account).
	AdminBudgetAccountID string
	// ForeignRates starts a steady foreign spend per account id: calls per Window, spread evenly.
	ForeignRates map[string]int

	// TokenLifetime is the access tokens' lifetime (default 1h), returned as expires_in.
	TokenLifetime time.Duration
	// AutoActivateUnclaimed makes new memberships active even when the email's domain is not
	// one of the organization's reserved domains (Admin with auto_activate_memberships, and
	// eSignature Users:create).
	AutoActivateUnclaimed bool

	// Faults are injected from the start (see Fault); SetFault changes them at run time.
	Faults []Fault

	// NowFunc is the clock (default time.Now). Windows, token expiry and assertion checks use
	// it; assertions signed with the real clock need NowFunc near the real time.
	NowFunc func() time.Time
	// RandFunc returns numbers in [0,1) for fault decisions (default math/rand/v2.Float64).
	// It is called with the simulator's lock held, so it need not be safe for concurrent use.
	RandFunc func() float64

	// AuthAddr, AdminAddr and ControlAddr are the listen addresses of the auth, Admin API and
	// control listeners (default 127.0.0.1:0).
	AuthAddr    string
	AdminAddr   string
	ControlAddr string
	// EnvironmentAddrs maps environment names to listen addresses (default 127.0.0.1:0).
	EnvironmentAddrs map[string]string
	// AdvertiseHost replaces the listeners' IP in published URLs (base_uri, the accepted aud,
	// paging links), e.g. "localhost" or a container's host name.
	AdvertiseHost string

	// ObserveFunc, when set, is called with the record of every token, userinfo, Admin and
	// eSignature request once it is answered (Time is its arrival). It runs on the request's
	// goroutine without the simulator's lock: keep it fast and safe for concurrent use.
	ObserveFunc func(CallRecord)

	// CallLogLimit bounds the call log in the state dump (default 10000; negative: no log).
	CallLogLimit int
	// Logger receives one debug line per request (operation, status, account, trace token; no
	// tokens, keys or emails). The zero value logs nothing.
	Logger zerolog.Logger
}

func (o *Options) setDefaults() {
	if o.HourlyLimit == 0 {
		o.HourlyLimit = DefaultHourlyLimit
	}
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.BurstLimit == 0 {
		o.BurstLimit = DefaultBurstLimit
	}
	if o.BurstWindow == 0 {
		o.BurstWindow = DefaultBurstWindow
	}
	if o.TokenLifetime == 0 {
		o.TokenLifetime = DefaultTokenLifetime
	}
	if o.NowFunc == nil {
		o.NowFunc = time.Now
	}
	if o.RandFunc == nil {
		o.RandFunc = rand.Float64
	}
	if o.AuthAddr == "" {
		o.AuthAddr = defaultAddr
	}
	if o.AdminAddr == "" {
		o.AdminAddr = defaultAddr
	}
	if o.ControlAddr == "" {
		o.ControlAddr = defaultAddr
	}
	if o.CallLogLimit == 0 {
		o.CallLogLimit = DefaultCallLogLimit
	}
}

// validate reports every problem at once; seed must already be resolved.
func (o *Options) validate(seed *Seed) error {
	var errs []error
	if o.HourlyLimit < 0 || o.BurstLimit < 0 {
		errs = append(errs, errors.New("limits must be positive"))
	}
	if o.Window < time.Millisecond || o.BurstWindow < time.Millisecond {
		errs = append(errs, errors.New("windows must be at least 1ms"))
	}
	if o.TokenLifetime < time.Second {
		errs = append(errs, errors.New("token lifetime must be at least 1s"))
	}
	envs := map[string]bool{}
	for _, e := range seed.Environments {
		envs[e] = true
	}
	for name := range o.EnvironmentAddrs {
		if !envs[name] {
			errs = append(errs, fmt.Errorf("environment address for unknown environment %q", name))
		}
	}
	accounts := map[string]bool{}
	for _, a := range seed.Accounts {
		accounts[a.ID] = true
	}
	if o.AdminBudgetAccountID != "" && !accounts[o.AdminBudgetAccountID] {
		errs = append(errs, fmt.Errorf("admin budget account %s is not a seeded account", o.AdminBudgetAccountID))
	}
	for id, rate := range o.ForeignRates {
		if !accounts[id] {
			errs = append(errs, fmt.Errorf("foreign rate for unknown account %s", id))
		}
		if rate < 0 {
			errs = append(errs, fmt.Errorf("foreign rate for account %s is negative", id))
		}
	}
	for _, f := range o.Faults {
		if err := f.validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
