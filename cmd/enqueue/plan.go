package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jml-sync/docusign-worker/jobs"
	"github.com/jml-sync/docusign-worker/rules"
)

// PlanRequest is the body of the worker's POST /plan: an HR event
// (structured CloudEvent) and, optionally, a rules file to plan with instead
// of the worker's.
type PlanRequest struct {
	Event json.RawMessage `json:"event"`
	Rules string          `json:"rules,omitempty"`
}

// runPlan is `enqueue plan`: what the worker would do for an event against
// the live DocuSign state, computed by the running worker (its DocuSign
// client, limiter, rules and identity map): the look-ups are real and take
// limiter tokens, writes are never sent.
func runPlan(ctx context.Context, e *env, args []string) error {
	fs := e.flags("plan", false, false)
	var spec employeeSpec
	spec.register(fs)
	eventFile := fs.String("event", "", "HR CloudEvent file (structured JSON; - for standard input); or describe the employee with --employee and the record flags")
	evType := fs.String("type", "joined", "with --employee: joined, updated or left")
	employee := fs.String("employee", "", "plan for this employee id, described by the record flags (--email, --department, --attribute, ...)")
	rulesFile := fs.String("rules", "", "plan with this rules file instead of the worker's (preview a rules change); it is validated first")
	asJSON := fs.Bool("json", false, "print the plan as JSON")
	workerURL := fs.String("worker-url", defaultWorkerURL(e.setting("WORKER_HTTP_ADDR", ":8080")),
		"the running worker's HTTP address (WORKER_HTTP_ADDR)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: enqueue plan --event FILE|- [--rules FILE] [--json]\n       enqueue plan --employee ID [--type joined|updated|left] [record flags] [--rules FILE] [--json]")
		fs.PrintDefaults()
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("unexpected arguments %v", pos)
	}
	var req PlanRequest
	switch {
	case *eventFile != "" && *employee != "":
		return usageErr("give --event or --employee, not both")
	case *eventFile != "":
		if req.Event, err = readInput(e, *eventFile); err != nil {
			return err
		}
	case *employee != "":
		spec.d.EmployeeID = *employee
		typ := *evType
		if !strings.HasPrefix(typ, "hr.employee.") {
			typ = "hr.employee." + typ
		}
		ev, err := spec.event(fs, typ, true)
		if err != nil {
			return err
		}
		if req.Event, err = ev.Encode(); err != nil {
			return usageErr("%w", err)
		}
	default:
		return usageErr("give --event FILE (or -) or --employee ID")
	}
	if *rulesFile != "" {
		raw, err := os.ReadFile(*rulesFile)
		if err != nil {
			return usageErr("--rules: %w", err)
		}
		if _, err := rules.Parse(*rulesFile, raw); err != nil {
			return usageErr("%w", err)
		}
		req.Rules = string(raw)
	}
	rep, err := postPlan(ctx, e, *workerURL, req)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(e, rep)
	}
	printPlan(e.s.out, rep)
	return nil
}

// defaultWorkerURL turns the worker's listen address into a URL.
func defaultWorkerURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://127.0.0.1:8080"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func readInput(e *env, path string) ([]byte, error) {
	var (
		raw []byte
		err error
	)
	if path == "-" {
		raw, err = io.ReadAll(e.s.in)
	} else {
		raw, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, usageErr("--event: %w", err)
	}
	raw = bytes.TrimSpace(raw)
	if !json.Valid(raw) {
		return nil, usageErr("--event %s is not JSON (a structured-mode CloudEvent)", path)
	}
	return raw, nil
}

// planError is the worker's error reply.
type planError struct {
	Error    string   `json:"error"`
	Problems []string `json:"problems,omitempty"`
}

// postPlan asks the worker for the plan.
func postPlan(ctx context.Context, e *env, base string, req PlanRequest) (*jobs.PlanReport, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, max(e.timeout, time.Minute))
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(base, "/")+"/plan", bytes.NewReader(body))
	if err != nil {
		return nil, usageErr("--worker-url %q: %w", base, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	if u := e.getenv("WORKER_MONITORING_USER"); u != "" {
		hreq.SetBasicAuth(u, e.getenv("WORKER_MONITORING_PASSWORD"))
	}
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		return nil, unreachable(fmt.Errorf("cannot reach the worker at %s: %w (is it running? set --worker-url or WORKER_HTTP_ADDR)", base, err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("read the plan: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var pe planError
		if json.Unmarshal(raw, &pe) != nil || pe.Error == "" {
			return nil, failed("the worker answered %s", resp.Status)
		}
		msg := pe.Error
		if len(pe.Problems) > 0 {
			msg += ":\n  " + strings.Join(pe.Problems, "\n  ")
		}
		if resp.StatusCode == http.StatusBadRequest {
			return nil, usageErr("%s", msg)
		}
		return nil, failed("%s", msg)
	}
	var rep jobs.PlanReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		return nil, fmt.Errorf("decode the plan: %w", err)
	}
	return &rep, nil
}

// printPlan prints a plan for people.
func printPlan(w io.Writer, rep *jobs.PlanReport) {
	fmt.Fprintf(w, "task:      %s %s\n", rep.TaskType, rep.TaskID)
	fmt.Fprintf(w, "outcome:   %s", rep.Outcome)
	if rep.Reason != "" {
		fmt.Fprintf(w, " (%s)", rep.Reason)
	}
	fmt.Fprintln(w)
	if r := rep.Rules; r != nil {
		scope := "in scope"
		if !r.InScope {
			scope = "out of scope: " + r.ScopeReason
		}
		fmt.Fprintf(w, "rules:     %s; matched %s (file %s)\n", scope, orDash(strings.Join(r.Matched, ", ")), short(r.Version))
	}
	if len(rep.Accounts) > 0 {
		fmt.Fprintln(w, "accounts:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  ACCOUNT\tPROFILE\tGROUPS\tSETTINGS")
		for _, a := range rep.Accounts {
			profile := firstOf(a.PermissionProfile, a.PermissionProfileID)
			groups := strings.Join(append(append([]string(nil), a.Groups...), a.GroupIDs...), ",")
			settings := make([]string, 0, len(a.Settings))
			for k, v := range a.Settings {
				settings = append(settings, k+"="+v)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", a.AccountID, orDash(profile), orDash(groups), orDash(strings.Join(settings, ",")))
		}
		_ = tw.Flush()
	}
	fmt.Fprintf(w, "look-ups:  %d DocuSign calls (sent; they took limiter tokens)\n", len(rep.Lookups))
	if len(rep.Planned) == 0 {
		fmt.Fprintln(w, "writes:    none")
		return
	}
	fmt.Fprintf(w, "writes:    %d (not sent)\n", len(rep.Planned))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\tAPI\tOPERATION\tMETHOD\tACCOUNT\tUSER")
	for i, c := range rep.Planned {
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\n", i+1, c.API, c.Operation, c.Method, orDash(c.AccountID), orDash(c.UserID))
	}
	_ = tw.Flush()
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// runRules is `enqueue rules check FILE`: the file's syntax, structure,
// regular expressions and setting names, with every problem and its line.
// Account, profile and group names are checked against DocuSign by the
// worker when it loads the file (at start, on SIGHUP and on change).
func runRules(_ context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("enqueue rules", flag.ContinueOnError)
	fs.SetOutput(e.s.err)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), "Usage: enqueue rules check FILE") }
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || pos[0] != "check" {
		fs.Usage()
		return usageErr("use: enqueue rules check FILE")
	}
	set, err := rules.Load(pos[1])
	var ve *rules.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			fmt.Fprintln(e.s.out, p.String())
		}
		return failed("%d problems in %s", len(ve.Problems)+ve.Omitted, pos[1])
	}
	if err != nil {
		return usageErr("%w", err)
	}
	fmt.Fprintf(e.s.out, "%s: valid: %d rules (%s), match %s, event accounts %s, out of scope: %s; accounts %s\n", pos[1],
		len(set.RuleNames()), strings.Join(set.RuleNames(), ", "), set.Match(), set.EventAccounts(), set.OnExit(),
		strings.Join(set.Accounts(), ", "))
	fmt.Fprintln(e.s.out, "names of accounts, profiles and groups are checked against DocuSign when the worker loads the file")
	return nil
}
