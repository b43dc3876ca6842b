package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jml-sync/docusign-worker/events"
)

// maxLine bounds one JSONL line (the worker refuses events over
// WORKER_MAX_EVENT_BYTES anyway).
const maxLine = 8 << 20

// publishSummary is what `enqueue publish` did.
type publishSummary struct {
	Lines      int      `json:"lines"`
	Published  int      `json:"published"`
	Duplicates int      `json:"duplicates"`
	Skipped    int      `json:"skipped"`
	Failed     int      `json:"failed"`
	Problems   []string `json:"problems,omitempty"`
}

// runPublish is `enqueue publish --file FILE`: every line is an HR CloudEvent
// in structured JSON mode, published to <HR prefix>.<action> with
// Nats-Msg-Id derived from its source and id, so publishing a file twice
// stores each event once (within the stream's duplicates window; after it,
// the worker's TaskIDs still deduplicate).
func runPublish(ctx context.Context, e *env, args []string) error {
	fs := e.flags("publish", false, true)
	file := fs.String("file", "", "JSONL file of HR CloudEvents, one per line (- for standard input)")
	validate := fs.Bool("validate", false, "check each event with the worker's decoder first and skip invalid ones (by default "+
		"they are published and the worker dead-letters them)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: enqueue publish --file FILE.jsonl [--validate]")
		fs.PrintDefaults()
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("unexpected arguments %v (name the file with --file)", pos)
	}
	if *file == "" {
		return usageErr("--file is required (a JSONL file of HR CloudEvents, or - for standard input)")
	}
	var in io.Reader = e.s.in
	total := 0
	if *file != "-" {
		f, err := os.Open(*file)
		if err != nil {
			return usageErr("--file: %w", err)
		}
		defer f.Close()
		if total, err = countLines(f); err != nil {
			return fmt.Errorf("read %s: %w", *file, err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("read %s: %w", *file, err)
		}
		in = f
	}
	js, err := e.jetStream()
	if err != nil {
		return err
	}
	var dec *events.Decoder
	if *validate {
		if dec, err = events.NewDecoder(0); err != nil {
			return err //nolint:wrapcheck // prefixed by events
		}
	}
	sum, err := publishLines(ctx, e, js, in, dec, newProgress(e.s.err, "publishing", total))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.s.out, "%d lines: %d published, %d duplicates (already in the stream), %d skipped, %d failed\n",
		sum.Lines, sum.Published, sum.Duplicates, sum.Skipped, sum.Failed)
	for _, p := range sum.Problems {
		fmt.Fprintln(e.s.err, "  "+p)
	}
	if sum.Failed > 0 || sum.Skipped > 0 {
		return failed("%d of %d lines were not published", sum.Failed+sum.Skipped, sum.Lines)
	}
	return nil
}

// eventHead is what publishing needs of an event.
type eventHead struct {
	ID     string `json:"id"`
	Source string `json:"source"`
	Type   string `json:"type"`
}

// publishLines publishes asynchronously (up to 256 in flight) and waits for
// every acknowledgement.
func publishLines(ctx context.Context, e *env, js jetstream.JetStream, in io.Reader, dec *events.Decoder, bar *progress) (publishSummary, error) {
	var sum publishSummary
	type pending struct {
		line int
		ack  jetstream.PubAckFuture
	}
	var inflight []pending
	// take counts one acknowledgement; wait bounds how long it may take (nil:
	// only if it is already there). It reports whether it was settled.
	take := func(p pending, wait <-chan struct{}) bool {
		var ready <-chan struct{}
		if wait == nil {
			closed := make(chan struct{})
			close(closed)
			ready = closed
		}
		select {
		case ack := <-p.ack.Ok():
			if ack.Duplicate {
				sum.Duplicates++
			} else {
				sum.Published++
			}
		case err := <-p.ack.Err():
			sum.Failed++
			sum.Problems = append(sum.Problems, fmt.Sprintf("line %d: %v", p.line, err))
		case <-ready:
			return false
		case <-wait:
			sum.Failed++
			sum.Problems = append(sum.Problems, fmt.Sprintf("line %d: no acknowledgement from the stream", p.line))
		}
		bar.add(1)
		return true
	}
	settle := func(wait <-chan struct{}) {
		keep := inflight[:0]
		for _, p := range inflight {
			if !take(p, wait) {
				keep = append(keep, p)
			}
		}
		inflight = keep
	}
	ackCtx := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 30*time.Second) }
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	prefix := e.hrSubjectPrefix()
	for sc.Scan() {
		if err := ctx.Err(); err != nil {
			return sum, fmt.Errorf("interrupted after %d lines: %w", sum.Lines, err)
		}
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		sum.Lines++
		skip := func(why string) {
			sum.Skipped++
			sum.Problems = append(sum.Problems, fmt.Sprintf("line %d: skipped: %s", sum.Lines, why))
			bar.add(1)
		}
		var head eventHead
		if err := json.Unmarshal(line, &head); err != nil {
			skip("not a JSON object: " + err.Error())
			continue
		}
		if head.ID == "" || head.Source == "" || head.Type == "" {
			skip("id, source and type are required (a CloudEvent in structured JSON mode)")
			continue
		}
		msg := &nats.Msg{Subject: prefix + "." + action(head.Type), Header: nats.Header{}, Data: append([]byte(nil), line...)}
		msg.Header.Set("Content-Type", events.ContentTypeStructured)
		if dec != nil {
			if _, err := dec.Decode(msg.Header, msg.Data); err != nil {
				skip(err.Error())
				continue
			}
		}
		ack, err := js.PublishMsgAsync(msg, jetstream.WithMsgID(events.PublishMsgID(head.Source, head.ID)))
		if err != nil {
			return sum, fmt.Errorf("publish line %d: %w", sum.Lines, err)
		}
		inflight = append(inflight, pending{line: sum.Lines, ack: ack})
		settle(nil)
		if len(inflight) >= 256 {
			wctx, cancel := ackCtx()
			take(inflight[0], wctx.Done())
			cancel()
			inflight = inflight[1:]
		}
	}
	if err := sc.Err(); err != nil {
		return sum, fmt.Errorf("read line %d: %w", sum.Lines+1, err)
	}
	wctx, cancel := ackCtx()
	settle(wctx.Done())
	cancel()
	bar.finish()
	if errors.Is(ctx.Err(), context.Canceled) {
		return sum, fmt.Errorf("interrupted: %w", ctx.Err())
	}
	return sum, nil
}

// action is the last part of an event type ("hr.employee.joined" →
// "joined"), the last token of its subject.
func action(eventType string) string {
	a := eventType[strings.LastIndexByte(eventType, '.')+1:]
	if a == "" || strings.ContainsAny(a, " *>") {
		return "unknown"
	}
	return a
}

func countLines(r io.Reader) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	n := 0
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			n++
		}
	}
	return n, sc.Err() //nolint:wrapcheck // wrapped by the caller
}
