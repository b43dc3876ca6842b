package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"text/tabwriter"
)

// queueRow is one queue in `queue ls`.
type queueRow struct {
	Queue     string  `json:"queue"`
	Paused    bool    `json:"paused"`
	Pending   int     `json:"pending"`
	Active    int     `json:"active"`
	Scheduled int     `json:"scheduled"`
	Retry     int     `json:"retry"`
	Archived  int     `json:"archived"`
	Completed int     `json:"completed"`
	LatencyS  float64 `json:"latency_seconds"`
}

// runQueue is `enqueue queue ls|pause|resume`. The worker pauses a queue
// when the DocuSign integration is unusable (consent revoked, key
// rejected); resume it once the cause is fixed.
func runQueue(ctx context.Context, e *env, args []string) error {
	fs := e.flags("queue", true, false)
	asJSON := fs.Bool("json", false, "ls: print JSON")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: enqueue queue ls [--json] | pause QUEUE | resume QUEUE")
		fs.PrintDefaults()
	}
	if len(args) == 0 {
		fs.Usage()
		return usageErr("name a sub-command: ls, pause or resume")
	}
	sub := args[0]
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if _, err := e.redis(ctx); err != nil {
		return err
	}
	switch sub {
	case "ls":
		if len(pos) > 0 {
			return usageErr("queue ls takes no arguments")
		}
		return listQueues(e, *asJSON)
	case "pause", "resume":
		if len(pos) != 1 {
			return usageErr("queue %s takes one queue name, e.g. enqueue queue %s critical", sub, sub)
		}
		q := pos[0]
		known, err := e.insp.Queues()
		if err != nil {
			return fmt.Errorf("list queues: %w", err)
		}
		if !slices.Contains(known, q) {
			return notFound("no queue %q (queues: %v)", q, known)
		}
		if sub == "pause" {
			err = e.insp.PauseQueue(q)
		} else {
			err = e.insp.UnpauseQueue(q)
		}
		if err != nil {
			return failed("%s %s: %w", sub, q, err)
		}
		fmt.Fprintf(e.s.out, "queue %s %sd\n", q, sub)
		return nil
	}
	return usageErr("unknown sub-command %q: use ls, pause or resume", sub)
}

func listQueues(e *env, asJSON bool) error {
	names, err := e.insp.Queues()
	if err != nil {
		return fmt.Errorf("list queues: %w", err)
	}
	slices.Sort(names)
	rows := make([]queueRow, 0, len(names))
	for _, q := range names {
		info, err := e.insp.GetQueueInfo(q)
		if err != nil {
			return fmt.Errorf("queue %s: %w", q, err)
		}
		rows = append(rows, queueRow{Queue: q, Paused: info.Paused, Pending: info.Pending, Active: info.Active,
			Scheduled: info.Scheduled, Retry: info.Retry, Archived: info.Archived, Completed: info.Completed,
			LatencyS: info.Latency.Seconds()})
	}
	if asJSON {
		enc := json.NewEncoder(e.s.out)
		enc.SetIndent("", "  ")
		return enc.Encode(rows) //nolint:wrapcheck // stdout
	}
	tw := tabwriter.NewWriter(e.s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "QUEUE\tPAUSED\tPENDING\tACTIVE\tSCHEDULED\tRETRY\tARCHIVED\tCOMPLETED\tLATENCY")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%v\t%d\t%d\t%d\t%d\t%d\t%d\t%.1fs\n", r.Queue, r.Paused, r.Pending, r.Active, r.Scheduled,
			r.Retry, r.Archived, r.Completed, r.LatencyS)
	}
	return tw.Flush() //nolint:wrapcheck // stdout
}
