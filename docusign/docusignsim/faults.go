package docusignsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Operation names of the OAuth endpoints (they have no OpenAPI operationId). The wildcard "*"
// never matches them: name them to inject faults into token or userinfo calls.
const (
	OpToken    = "OAuth_PostToken"
	OpUserinfo = "OAuth_GetUserInfo"
	// OpAny is the wildcard operation of a Fault: every Admin and eSignature operation.
	OpAny = "*"
)

// Fault describes failures injected into one operation. Per request one random number r in
// [0,1) decides: r < DropRate drops the connection (hijacked and closed, no reply);
// r < DropRate+ErrorRate answers ErrorStatus. Latency is added to every matching request.
// A fault for a named operation replaces the "*" fault for that operation.
type Fault struct {
	// Operation is an OpenAPI operationId (e.g. "Users_PostUsers",
	// "OrganizationUser_Users_AddV2"), OpToken, OpUserinfo or "*".
	Operation string
	// ErrorRate is the probability of an ErrorStatus reply.
	ErrorRate float64
	// ErrorStatus is the injected status, 500–599 (default 503). A 503 has an HTML body, as a
	// load balancer would send; other statuses carry the API's JSON error body.
	ErrorStatus int
	// DropRate is the probability of a dropped connection.
	DropRate float64
	// Latency is added before the reply.
	Latency time.Duration
	// Limit caps how many errors and drops the fault injects (0: no cap).
	Limit int
}

type faultJSON struct {
	Operation   string  `json:"operation"`
	ErrorRate   float64 `json:"error_rate,omitempty"`
	ErrorStatus int     `json:"error_status,omitempty"`
	DropRate    float64 `json:"drop_rate,omitempty"`
	Latency     string  `json:"latency,omitempty"`
	Limit       int     `json:"limit,omitempty"`
}

// MarshalJSON writes the fault with snake_case keys and Latency as a Go duration string.
func (f Fault) MarshalJSON() ([]byte, error) {
	fj := faultJSON{
		Operation: f.Operation, ErrorRate: f.ErrorRate, ErrorStatus: f.ErrorStatus,
		DropRate: f.DropRate, Limit: f.Limit,
	}
	if f.Latency > 0 {
		fj.Latency = f.Latency.String()
	}
	data, err := json.Marshal(fj)
	if err != nil {
		return nil, fmt.Errorf("docusignsim: marshal fault: %w", err)
	}
	return data, nil
}

// UnmarshalJSON reads the form MarshalJSON writes ("latency": "250ms").
func (f *Fault) UnmarshalJSON(data []byte) error {
	var fj faultJSON
	if err := json.Unmarshal(data, &fj); err != nil {
		return fmt.Errorf("docusignsim: decode fault: %w", err)
	}
	*f = Fault{
		Operation: fj.Operation, ErrorRate: fj.ErrorRate, ErrorStatus: fj.ErrorStatus,
		DropRate: fj.DropRate, Limit: fj.Limit,
	}
	if fj.Latency != "" {
		d, err := time.ParseDuration(fj.Latency)
		if err != nil {
			return fmt.Errorf("docusignsim: fault latency: %w", err)
		}
		f.Latency = d
	}
	return nil
}

// ParseFault reads the command-line form of a fault:
// "OPERATION[:key=value,...]" with the keys error_rate, error_status, drop_rate, latency and
// limit, e.g. "Users_PostUsers:error_rate=0.1,error_status=500,latency=200ms".
func ParseFault(spec string) (Fault, error) {
	op, params, _ := strings.Cut(spec, ":")
	f := Fault{Operation: strings.TrimSpace(op)}
	if params != "" {
		for kv := range strings.SplitSeq(params, ",") {
			key, value, ok := strings.Cut(strings.TrimSpace(kv), "=")
			if !ok {
				return Fault{}, fmt.Errorf("docusignsim: fault %q: %q is not key=value", spec, kv)
			}
			var err error
			switch key {
			case "error_rate":
				f.ErrorRate, err = strconv.ParseFloat(value, 64)
			case "error_status":
				f.ErrorStatus, err = strconv.Atoi(value)
			case "drop_rate":
				f.DropRate, err = strconv.ParseFloat(value, 64)
			case "latency":
				f.Latency, err = time.ParseDuration(value)
			case "limit":
				f.Limit, err = strconv.Atoi(value)
			default:
				err = fmt.Errorf("unknown key %q", key)
			}
			if err != nil {
				return Fault{}, fmt.Errorf("docusignsim: fault %q: %w", spec, err)
			}
		}
	}
	if err := f.validate(); err != nil {
		return Fault{}, err
	}
	return f, nil
}

func (f Fault) validate() error {
	var errs []error
	if f.Operation == "" {
		errs = append(errs, errors.New("operation is required"))
	}
	if f.ErrorRate < 0 || f.DropRate < 0 || f.ErrorRate+f.DropRate > 1 {
		errs = append(errs, errors.New("error_rate and drop_rate must be ≥ 0 and sum to at most 1"))
	}
	if f.ErrorStatus != 0 && (f.ErrorStatus < 500 || f.ErrorStatus > 599) {
		errs = append(errs, fmt.Errorf("error_status %d is not a 5xx status", f.ErrorStatus))
	}
	if f.Latency < 0 || f.Limit < 0 {
		errs = append(errs, errors.New("latency and limit must not be negative"))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("docusignsim: invalid fault for %q: %w", f.Operation, errors.Join(errs...))
}

// faultAction is what the fault layer decided for one request.
type faultAction struct {
	latency time.Duration
	drop    bool
	status  int // 0: no injected error
}

// decideFault picks the fault action for op; s.mu must be held.
func (s *Server) decideFault(op string, api bool) faultAction {
	f, ok := s.faults[op]
	if !ok && api {
		f, ok = s.faults[OpAny]
	}
	if !ok {
		return faultAction{}
	}
	act := faultAction{latency: f.Latency}
	if f.ErrorRate == 0 && f.DropRate == 0 {
		return act
	}
	if f.Limit > 0 && s.faultHits[f.Operation] >= f.Limit {
		return act
	}
	r := s.opts.RandFunc()
	switch {
	case r < f.DropRate:
		act.drop = true
	case r < f.DropRate+f.ErrorRate:
		act.status = f.ErrorStatus
		if act.status == 0 {
			act.status = 503
		}
	default:
		return act
	}
	s.faultHits[f.Operation]++
	return act
}
