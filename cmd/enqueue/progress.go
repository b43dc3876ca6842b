package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progressThreshold is the set size from which progress is shown.
const progressThreshold = 100

// progress shows how far a long operation is, on the error stream: a bar
// redrawn in place on a terminal, a line per 10 % otherwise (logs, CI).
// Small sets show nothing.
type progress struct {
	w       io.Writer
	tty     bool
	label   string
	total   int
	done    int
	start   time.Time
	drawn   time.Time
	lastPct int
	now     func() time.Time
}

func newProgress(w io.Writer, label string, total int) *progress {
	if total < progressThreshold {
		return &progress{}
	}
	now := time.Now
	return &progress{w: w, tty: isTerminal(w), label: label, total: total, start: now(), lastPct: -1, now: now}
}

// add counts n more items done.
func (p *progress) add(n int) {
	if p.w == nil {
		return
	}
	p.done += n
	pct := p.done * 100 / p.total
	switch {
	case p.tty:
		if t := p.now(); t.Sub(p.drawn) >= 100*time.Millisecond || p.done == p.total {
			p.drawn = t
			fmt.Fprintf(p.w, "\r%s", p.line())
		}
	case pct/10 != p.lastPct/10:
		p.lastPct = pct
		fmt.Fprintln(p.w, p.line())
	}
}

// finish ends the bar's line.
func (p *progress) finish() {
	if p.w != nil && p.tty {
		fmt.Fprintln(p.w)
	}
}

func (p *progress) line() string {
	const width = 30
	filled := p.done * width / p.total
	rate := 0.0
	if el := p.now().Sub(p.start).Seconds(); el > 0 {
		rate = float64(p.done) / el
	}
	return fmt.Sprintf("%s [%s%s] %3d%% %d/%d %.0f/s", p.label, strings.Repeat("=", filled),
		strings.Repeat(" ", width-filled), p.done*100/p.total, p.done, p.total, rate)
}
