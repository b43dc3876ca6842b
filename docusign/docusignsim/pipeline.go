package docusignsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

const maxBodyBytes = 8 << 20

type apiKind int

const (
	kindAuth apiKind = iota
	kindAdmin
	kindESign
)

// reply is a handler's answer, written after the lock is released.
type reply struct {
	status      int
	body        any    // JSON-encoded unless nil
	raw         []byte // written as is when body is nil
	contentType string
}

// call is one API request as the handlers see it.
type call struct {
	r     *http.Request
	body  []byte
	now   time.Time
	user  *user
	token *accessToken
	acct  *account // eSignature: the path's account
	env   string
	op    string
	host  string // the Host the client used (for absolute paging links)
}

type handlerFunc func(c *call) reply

func jsonReply(status int, body any) reply {
	return reply{status: status, body: body}
}

type esErrorBody struct {
	ErrorCode string `json:"errorCode"`
	Message   string `json:"message"`
}

type adminErrorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

func esError(status int, code, msg string) reply {
	return jsonReply(status, esErrorBody{ErrorCode: code, Message: msg})
}

func adminError(status int, code, desc string) reply {
	return jsonReply(status, adminErrorBody{Error: code, ErrorDescription: desc})
}

// decodeBody decodes a JSON request body into v (unknown fields are ignored, as DocuSign does;
// wrong types are an error).
func decodeBody(c *call, v any) error {
	if len(bytes.TrimSpace(c.body)) == 0 {
		return fmt.Errorf("the request body is empty")
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return err //nolint:wrapcheck // becomes a reply text, never returned
	}
	return nil
}

// handle wraps an operation: trace token, counting, admission (auth, environment, rate limit),
// faults, then the handler under the lock.
func (s *Server) handle(kind apiKind, env, op, scope string, h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		trace := newUUID()
		w.Header().Set("X-DocuSign-TraceToken", trace)
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
		if err != nil {
			return // the client went away
		}
		c := &call{r: r, body: body, env: env, op: op, host: r.Host}

		s.mu.Lock()
		c.now = s.opts.NowFunc()
		s.requests[op]++
		var rej *reply
		budgetAcct := ""
		switch kind {
		case kindAdmin:
			rej, budgetAcct = s.admitAdmin(c, scope, w.Header())
		case kindESign:
			rej, budgetAcct = s.admitESign(c, w.Header())
		}
		var act faultAction
		if rej == nil {
			act = s.decideFault(op, kind != kindAuth)
		}
		s.mu.Unlock()

		if rej != nil {
			s.write(w, c, *rej, budgetAcct, trace)
			return
		}
		if act.latency > 0 {
			t := time.NewTimer(act.latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				s.record(c, 0, budgetAcct, trace)
				return
			}
		}
		if act.drop {
			s.record(c, 0, budgetAcct, trace)
			dropConnection(w)
			return
		}
		if act.status != 0 {
			s.write(w, c, faultReply(kind, act.status), budgetAcct, trace)
			return
		}
		s.mu.Lock()
		rep := h(c)
		s.mu.Unlock()
		s.write(w, c, rep, budgetAcct, trace)
	}
}

// dropConnection closes the connection without a reply.
func dropConnection(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	conn, _, err := rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // aborts the reply; the server closes the connection
	}
	_ = conn.Close()
}

func faultReply(kind apiKind, status int) reply {
	if status == http.StatusServiceUnavailable {
		return reply{
			status:      status,
			raw:         []byte("<html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1></body></html>\n"),
			contentType: "text/html",
		}
	}
	switch kind {
	case kindESign:
		return esError(status, "UNSPECIFIED_ERROR", "An unexpected error occurred (injected by the simulator).")
	default:
		return adminError(status, "internal_server_error", "An unexpected error occurred (injected by the simulator).")
	}
}

func (s *Server) write(w http.ResponseWriter, c *call, rep reply, budgetAcct, trace string) {
	var payload []byte
	switch {
	case rep.body != nil:
		var err error
		payload, err = json.Marshal(rep.body)
		if err != nil {
			rep = esError(http.StatusInternalServerError, "UNSPECIFIED_ERROR", "simulator: encode reply")
			payload, _ = json.Marshal(rep.body)
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	case rep.raw != nil:
		payload = rep.raw
		w.Header().Set("Content-Type", rep.contentType)
	}
	if rep.status == 0 {
		rep.status = http.StatusOK
	}
	s.record(c, rep.status, budgetAcct, trace)
	w.WriteHeader(rep.status)
	if len(payload) > 0 {
		_, _ = w.Write(payload)
	}
}

// CallRecord is one request in the call log of the state dump.
type CallRecord struct {
	Seq         int64     `json:"seq"`
	Time        time.Time `json:"time"`
	Operation   string    `json:"operation"`
	Method      string    `json:"method"`
	Path        string    `json:"path"`
	Environment string    `json:"environment,omitempty"`
	// AccountID is the account whose budget the call spent or would have spent.
	AccountID string `json:"account_id,omitempty"`
	// Status is the HTTP status; 0 for a dropped connection.
	Status     int    `json:"status"`
	TraceToken string `json:"trace_token"`
}

func (s *Server) record(c *call, status int, budgetAcct, trace string) {
	s.mu.Lock()
	byStatus := s.responses[c.op]
	if byStatus == nil {
		byStatus = map[int]int{}
		s.responses[c.op] = byStatus
	}
	byStatus[status]++
	s.callSeq++
	rec := CallRecord{
		Seq: s.callSeq, Time: c.now.UTC(), Operation: c.op, Method: c.r.Method, Path: c.r.URL.Path,
		Environment: c.env, AccountID: budgetAcct, Status: status, TraceToken: trace,
	}
	if s.opts.CallLogLimit > 0 {
		s.calls = append(s.calls, rec)
		if len(s.calls) >= 2*s.opts.CallLogLimit { // trim in bulk: O(1) amortised
			s.calls = slices.Clone(s.calls[len(s.calls)-s.opts.CallLogLimit:])
		}
	}
	s.mu.Unlock()
	if s.opts.ObserveFunc != nil {
		s.opts.ObserveFunc(rec)
	}
	s.opts.Logger.Debug().Str("operation", c.op).Int("status", status).Str("environment", c.env).
		Str("account_id", budgetAcct).Str("trace_token", trace).Msg("docusignsim request")
}

// bearer returns the access token of the Authorization header ("" when absent).
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// lookupToken finds a live token; s.mu must be held.
func (s *Server) lookupToken(raw string, now time.Time) *accessToken {
	if raw == "" {
		return nil
	}
	t := s.tokens[raw]
	if t == nil {
		return nil
	}
	if !now.Before(t.expires) {
		delete(s.tokens, raw)
		return nil
	}
	return t
}

func hasScope(t *accessToken, scope string) bool {
	return scope == "" || slices.Contains(t.scopes, scope)
}

// limitReply is the documented over-the-limit reply (429, or 400 with LegacyLimitStatus).
func (s *Server) limitReply(kind string) reply {
	status := http.StatusTooManyRequests
	if s.opts.LegacyLimitStatus {
		status = http.StatusBadRequest
	}
	s.tooMany++
	if kind == limitBurst {
		return esError(status, "BURST_APIINVOCATION_LIMIT_EXCEEDED",
			fmt.Sprintf("The maximum number of burst API invocations has been exceeded. The burst limit is %d.", s.opts.BurstLimit))
	}
	return esError(status, "HOURLY_APIINVOCATION_LIMIT_EXCEEDED",
		fmt.Sprintf("The maximum number of hourly API invocations has been exceeded. The hourly limit is %d.", s.opts.HourlyLimit))
}

// admitAdmin authenticates an Admin API call and charges the admin budget account. It returns
// a rejection (nil: go on) and the budget account. s.mu must be held.
func (s *Server) admitAdmin(c *call, scope string, h http.Header) (*reply, string) {
	acctID := s.opts.AdminBudgetAccountID
	b := s.budgetFor(acctID)
	now := c.now.UnixNano()
	reject := func(rep reply) (*reply, string) {
		s.setRateHeaders(h, b, now)
		return &rep, acctID
	}
	tok := s.lookupToken(bearer(c.r), c.now)
	if tok == nil {
		return reject(adminError(http.StatusUnauthorized, "unauthorized", "Not Authorized"))
	}
	u := s.dir.userByID(tok.userID)
	if u == nil {
		return reject(adminError(http.StatusUnauthorized, "unauthorized", "Not Authorized"))
	}
	if !hasScope(tok, scope) {
		return reject(adminError(http.StatusForbidden, "forbidden",
			fmt.Sprintf("The access token does not carry the %s scope.", scope)))
	}
	if orgID := c.r.PathValue("organizationId"); orgID != "" {
		if !strings.EqualFold(orgID, s.dir.org.id) || !u.orgAdmin {
			return reject(adminError(http.StatusForbidden, "forbidden",
				"The user is not an administrator of this organization."))
		}
	}
	c.user, c.token = u, tok
	if kind := s.charge(b, now); kind != "" {
		rep := s.limitReply(kind)
		s.setRateHeaders(h, b, now)
		return &rep, acctID
	}
	s.setRateHeaders(h, b, now)
	return nil, acctID
}

// admitESign authenticates an eSignature call, checks that this environment hosts the account
// and that the caller is an administrator member, and charges the account. s.mu must be held.
func (s *Server) admitESign(c *call, h http.Header) (*reply, string) {
	a := s.dir.accountByRef(c.r.PathValue("accountId"))
	hosted := a != nil && a.environment == c.env
	now := c.now.UnixNano()
	reject := func(rep reply) (*reply, string) {
		if hosted {
			s.setRateHeaders(h, s.budgetFor(a.id), now)
			return &rep, a.id
		}
		return &rep, ""
	}
	raw := bearer(c.r)
	if raw == "" {
		return reject(esError(http.StatusUnauthorized, "USER_AUTHENTICATION_FAILED",
			"One or both of Username and Password are invalid. No access token was supplied."))
	}
	tok := s.lookupToken(raw, c.now)
	var u *user
	if tok != nil {
		u = s.dir.userByID(tok.userID)
	}
	if u == nil {
		return reject(esError(http.StatusUnauthorized, "AUTHORIZATION_INVALID_TOKEN",
			"The access token provided is expired, revoked or malformed."))
	}
	if !hasScope(tok, "signature") {
		return reject(esError(http.StatusForbidden, "USER_LACKS_PERMISSIONS",
			"The access token does not carry the signature scope."))
	}
	if !hosted {
		for _, m := range u.memberships {
			if m.account.environment == c.env {
				return reject(esError(http.StatusBadRequest, "PARTNER_AUTHENTICATION_FAILED",
					"The specified Integrator Key was not found or is disabled. Invalid account specified for user."))
			}
		}
		return reject(esError(http.StatusBadRequest, "USER_DOES_NOT_EXIST_IN_SYSTEM",
			"The UserID did not identify a User in the system."))
	}
	m := u.membership(a.id)
	if m == nil || m.status != StatusActive {
		return reject(esError(http.StatusBadRequest, "USER_LACKS_MEMBERSHIP",
			"User does not have a valid membership on this account."))
	}
	if !m.isAdmin() {
		return reject(esError(http.StatusBadRequest, "USER_LACKS_PERMISSIONS",
			"This user lacks sufficient permissions to access this resource."))
	}
	c.user, c.token, c.acct = u, tok, a
	b := s.budgetFor(a.id)
	if kind := s.charge(b, now); kind != "" {
		rep := s.limitReply(kind)
		s.setRateHeaders(h, b, now)
		return &rep, a.id
	}
	s.setRateHeaders(h, b, now)
	return nil, a.id
}
