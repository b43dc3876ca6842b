package docusignsim

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is a running simulator: an auth listener (token, userinfo), an Admin API listener,
// one eSignature listener per environment and a control listener, all over one directory.
type Server struct {
	opts   Options
	seed   *Seed
	pubKey *rsa.PublicKey

	mu        sync.Mutex
	dir       *directory
	tokens    map[string]*accessToken
	budgets   map[string]*budget
	faults    map[string]Fault
	faultHits map[string]int
	requests  map[string]int
	responses map[string]map[int]int
	tooMany   int
	calls     []CallRecord
	callSeq   int64

	envNames  []string
	envURLs   map[string]string
	authURL   string
	authHost  string
	adminURL  string
	ctlURL    string
	audiences []string

	listeners []net.Listener
	servers   []*http.Server
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

type accessToken struct {
	userID  string
	scopes  []string
	expires time.Time
}

// Start validates opts, builds the directory from the seed and starts every listener.
func Start(opts Options) (*Server, error) {
	opts.setDefaults()
	seed := opts.Seed
	if seed == nil {
		var err error
		if seed, err = DefaultSeed(); err != nil {
			return nil, err
		}
	} else if err := seed.Validate(); err != nil {
		return nil, err
	}
	if err := opts.validate(seed); err != nil {
		return nil, fmt.Errorf("docusignsim: invalid options: %w", err)
	}
	keyPEM := opts.PublicKeyPEM
	if len(keyPEM) == 0 {
		keyPEM = []byte(seed.PublicKeyPEM)
	}
	if len(keyPEM) == 0 {
		return nil, ErrNoPublicKey
	}
	pub, err := parsePublicKey(keyPEM)
	if err != nil {
		return nil, err
	}
	if opts.AdminBudgetAccountID == "" {
		opts.AdminBudgetAccountID = seed.Organization.DefaultAccountID
		if opts.AdminBudgetAccountID == "" {
			opts.AdminBudgetAccountID = seed.Accounts[0].ID
		}
	}
	s := &Server{
		opts:      opts,
		seed:      seed,
		pubKey:    pub,
		dir:       newDirectory(seed, opts.NowFunc()),
		tokens:    map[string]*accessToken{},
		budgets:   map[string]*budget{},
		faults:    map[string]Fault{},
		faultHits: map[string]int{},
		requests:  map[string]int{},
		responses: map[string]map[int]int{},
		envNames:  slices.Clone(seed.Environments),
		envURLs:   map[string]string{},
	}
	for _, f := range opts.Faults {
		s.faults[f.Operation] = f
	}
	now := opts.NowFunc().UnixNano()
	for _, a := range s.dir.accounts {
		s.roll(s.budgetFor(a.id), now) // every account appears in the state dump
	}
	for id, rate := range opts.ForeignRates {
		s.setForeignRate(s.budgetFor(s.dir.account(id).id), now, rate)
	}
	if err := s.listen(); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// listen opens every listener, publishes the URLs, then starts serving (so no request can see
// a URL half set).
func (s *Server) listen() error {
	open := func(what, addr string) (net.Listener, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("docusignsim: listen %s: %w", what, err)
		}
		s.listeners = append(s.listeners, ln)
		return ln, nil
	}
	authLn, err := open("auth", s.opts.AuthAddr)
	if err != nil {
		return err
	}
	adminLn, err := open("admin", s.opts.AdminAddr)
	if err != nil {
		return err
	}
	envLns := map[string]net.Listener{}
	for _, env := range s.envNames {
		addr := s.opts.EnvironmentAddrs[env]
		if addr == "" {
			addr = defaultAddr
		}
		if envLns[env], err = open("environment "+env, addr); err != nil {
			return err
		}
	}
	ctlLn, err := open("control", s.opts.ControlAddr)
	if err != nil {
		return err
	}

	s.authHost = s.advertised(authLn)
	s.authURL = "http://" + s.authHost
	s.audiences = append([]string{s.authHost, authLn.Addr().String()}, s.seed.Audiences...)
	s.adminURL = "http://" + s.advertised(adminLn) + "/management"
	for env, ln := range envLns {
		s.envURLs[env] = "http://" + s.advertised(ln)
	}
	s.ctlURL = "http://" + s.advertised(ctlLn)

	s.serve(authLn, s.authMux())
	s.serve(adminLn, s.adminMux())
	for _, env := range s.envNames {
		s.serve(envLns[env], s.esignMux(env))
	}
	s.serve(ctlLn, s.controlMux())
	return nil
}

func (s *Server) serve(ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = srv.Serve(ln) // returns http.ErrServerClosed on Close/Shutdown
	}()
}

// advertised is the host:port published for a listener.
func (s *Server) advertised(ln net.Listener) string {
	host, port, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		return ln.Addr().String()
	}
	if s.opts.AdvertiseHost != "" {
		host = s.opts.AdvertiseHost
	} else if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// Close stops every listener at once and drops open connections.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		for _, srv := range s.servers {
			if err := srv.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		for _, ln := range s.listeners {
			_ = ln.Close() // already closed by its server, unless Start failed before serving
		}
		s.wg.Wait()
		if len(errs) > 0 {
			s.closeErr = fmt.Errorf("docusignsim: close: %w", errors.Join(errs...))
		}
	})
	return s.closeErr
}

// Shutdown stops the listeners gracefully, waiting for requests in flight until ctx ends; then
// it closes whatever is left.
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	for _, srv := range s.servers {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.Close(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("docusignsim: shutdown: %w", errors.Join(errs...))
	}
	return nil
}

// AuthURL is the OAuth base URL (token at /oauth/token, userinfo at /oauth/userinfo).
func (s *Server) AuthURL() string { return s.authURL }

// AuthHost is the auth listener's host:port without scheme: the `aud` assertions must carry.
func (s *Server) AuthHost() string { return s.authHost }

// AdminURL is the Admin API base URL including /management.
func (s *Server) AdminURL() string { return s.adminURL }

// EnvironmentURL is an environment's base_uri (without /restapi); "" for an unknown name.
func (s *Server) EnvironmentURL(name string) string { return s.envURLs[name] }

// Environments lists the environment names in seed order.
func (s *Server) Environments() []string { return slices.Clone(s.envNames) }

// ControlURL is the control listener's base URL (the /_sim/ endpoints).
func (s *Server) ControlURL() string { return s.ctlURL }

// IntegrationKey is the integration key assertions must name as `iss`.
func (s *Server) IntegrationKey() string { return s.seed.IntegrationKey }

// OrganizationID is the organization's id.
func (s *Server) OrganizationID() string { return s.seed.Organization.ID }

// Info describes where a running simulator listens and what it simulates.
type Info struct {
	AuthURL        string        `json:"auth_url"`
	AuthHost       string        `json:"auth_host"`
	AdminURL       string        `json:"admin_url"`
	ControlURL     string        `json:"control_url"`
	Environments   []EnvInfo     `json:"environments"`
	IntegrationKey string        `json:"integration_key"`
	OrganizationID string        `json:"organization_id"`
	Accounts       []AccountInfo `json:"accounts"`
	// AdminUserIDs are the seeded organization admins (the users to impersonate).
	AdminUserIDs []string `json:"admin_user_ids"`
}

// EnvInfo is one environment listener.
type EnvInfo struct {
	Name    string `json:"name"`
	BaseURI string `json:"base_uri"`
}

// AccountInfo is one account and where it lives now.
type AccountInfo struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Environment string `json:"environment"`
	BaseURI     string `json:"base_uri"`
}

// Info returns the listeners, the integration key, the organization and its accounts.
func (s *Server) Info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	info := Info{
		AuthURL: s.authURL, AuthHost: s.authHost, AdminURL: s.adminURL, ControlURL: s.ctlURL,
		IntegrationKey: s.seed.IntegrationKey, OrganizationID: s.dir.org.id,
	}
	for _, env := range s.envNames {
		info.Environments = append(info.Environments, EnvInfo{Name: env, BaseURI: s.envURLs[env]})
	}
	for _, a := range s.dir.accounts {
		info.Accounts = append(info.Accounts, AccountInfo{
			ID: a.id, Name: a.name, Environment: a.environment, BaseURI: s.envURLs[a.environment],
		})
	}
	for _, u := range s.dir.users {
		if u.orgAdmin {
			info.AdminUserIDs = append(info.AdminUserIDs, u.id)
		}
	}
	return info
}

// ErrUnknown is returned by run-time controls naming an unknown account, user, operation or
// environment.
var ErrUnknown = errors.New("docusignsim: unknown")

// ExpireTokens revokes every access token issued so far: the next API call with one gets 401.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// MoveAccount moves an account to another environment: its base_uri in userinfo changes and
// the old environment answers with the wrong-environment errors.
func (s *Server) MoveAccount(accountID, environment string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.dir.account(accountID)
	if a == nil {
		return fmt.Errorf("%w account %s", ErrUnknown, accountID)
	}
	if _, ok := s.envURLs[environment]; !ok {
		return fmt.Errorf("%w environment %q", ErrUnknown, environment)
	}
	a.environment = environment
	return nil
}

// SetUserinfoMode makes userinfo answer normally (""), 404 ("not_found") or with an empty
// accounts list ("empty") for one user.
func (s *Server) SetUserinfoMode(userID, mode string) error {
	switch mode {
	case UserinfoNormal, UserinfoNotFound, UserinfoEmpty:
	default:
		return fmt.Errorf("%w userinfo mode %q", ErrUnknown, mode)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.dir.userByID(userID)
	if u == nil {
		return fmt.Errorf("%w user %s", ErrUnknown, userID)
	}
	u.userinfoMode = mode
	return nil
}

// SetFault installs (or replaces) the fault of f.Operation and resets its injection count.
func (s *Server) SetFault(f Fault) error {
	if err := f.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[f.Operation] = f
	delete(s.faultHits, f.Operation)
	return nil
}

// ClearFaults removes the faults of the named operations, or all faults when none is named.
func (s *Server) ClearFaults(operations ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(operations) == 0 {
		clear(s.faults)
		clear(s.faultHits)
		return
	}
	for _, op := range operations {
		delete(s.faults, op)
		delete(s.faultHits, op)
	}
}

// Faults lists the installed faults, sorted by operation.
func (s *Server) Faults() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Fault, 0, len(s.faults))
	for _, f := range s.faults {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b Fault) int { return strings.Compare(a.Operation, b.Operation) })
	return out
}

// SetForeignRate makes a foreign application spend callsPerWindow calls of the account's budget
// in every window, spread evenly (slot k of a window at start + k*Window/callsPerWindow); 0
// stops it. Foreign calls count against the hourly and the burst limit; a foreign call over a
// limit is rejected and not counted.
func (s *Server) SetForeignRate(accountID string, callsPerWindow int) error {
	if callsPerWindow < 0 {
		return fmt.Errorf("docusignsim: foreign rate %d is negative", callsPerWindow)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.dir.account(accountID)
	if a == nil {
		return fmt.Errorf("%w account %s", ErrUnknown, accountID)
	}
	s.setForeignRate(s.budgetFor(a.id), s.opts.NowFunc().UnixNano(), callsPerWindow)
	return nil
}

// SpendForeign records calls made by a foreign application on the account right now, in one
// lump. It returns how many fitted in the hourly budget; burst use rises with them up to the
// burst limit.
func (s *Server) SpendForeign(accountID string, calls int) (int, error) {
	if calls < 0 {
		return 0, fmt.Errorf("docusignsim: foreign spend %d is negative", calls)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.dir.account(accountID)
	if a == nil {
		return 0, fmt.Errorf("%w account %s", ErrUnknown, accountID)
	}
	return s.spendForeignLump(s.budgetFor(a.id), s.opts.NowFunc().UnixNano(), calls), nil
}

// ActivateMembership imitates the user accepting the activation email: an activation_sent
// membership of the user (by id or email) in the account becomes active.
func (s *Server) ActivateMembership(user, accountID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.dir.userByID(user)
	if u == nil {
		u = s.dir.userByEmail(user)
	}
	if u == nil {
		return fmt.Errorf("%w user", ErrUnknown)
	}
	m := u.membership(accountID)
	if m == nil {
		return fmt.Errorf("%w membership in account %s", ErrUnknown, accountID)
	}
	if m.status == StatusActivationSent {
		m.status = StatusActive
	}
	return nil
}

// ResetCounters clears the per-operation request and response counts, the 429 count and the
// call log (budgets are kept).
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.requests)
	clear(s.responses)
	s.tooMany = 0
	s.calls = nil
}

// RequestCount returns how many requests reached the operation (all outcomes).
func (s *Server) RequestCount(operation string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[operation]
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
