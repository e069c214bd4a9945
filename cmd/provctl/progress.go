package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress draws a one-line progress bar on a terminal. A nil *progress draws
// nothing, so callers need no checks.
type progress struct {
	w     io.Writer
	total int // 0 when unknown (stdin)
	last  time.Time
	shown bool
	sum   summary
	now   func() time.Time
}

const barWidth = 30

// redrawEvery throttles drawing: a terminal cannot show faster, and writing
// it would slow a large batch.
const redrawEvery = 100 * time.Millisecond

func newProgress(w io.Writer, total int) *progress {
	return &progress{w: w, total: total, now: time.Now}
}

func (p *progress) update(s summary) {
	if p == nil {
		return
	}
	p.sum = s
	if now := p.now(); now.Sub(p.last) >= redrawEvery || !p.shown {
		p.last = now
		p.draw()
	}
}

// clear erases the bar so a line can be printed in its place; the next
// update redraws it.
func (p *progress) clear() {
	if p == nil || !p.shown {
		return
	}
	fmt.Fprint(p.w, "\r\033[K")
	p.shown = false
}

// finish draws the final state and ends the line.
func (p *progress) finish() {
	if p == nil {
		return
	}
	p.draw()
	fmt.Fprintln(p.w)
	p.shown = false
}

func (p *progress) draw() {
	fmt.Fprint(p.w, "\r\033[K"+p.line())
	p.shown = true
}

// line renders the bar: "[=====>      ] 120/400  synced 118  skipped 0  failed 2  35/s".
func (p *progress) line() string {
	s := p.sum
	done := s.total()
	var b strings.Builder
	if p.total > 0 {
		filled := min(barWidth, done*barWidth/p.total)
		b.WriteByte('[')
		b.WriteString(strings.Repeat("=", filled))
		if filled < barWidth {
			b.WriteByte('>')
			b.WriteString(strings.Repeat(" ", barWidth-filled-1))
		}
		fmt.Fprintf(&b, "] %d/%d", done, p.total)
	} else {
		fmt.Fprintf(&b, "%d done", done)
	}
	fmt.Fprintf(&b, "  synced %d  skipped %d  failed %d", s.synced, s.skipped, s.failed)
	if el := p.now().Sub(s.start).Seconds(); el > 0.5 {
		fmt.Fprintf(&b, "  %.0f/s", float64(done)/el)
	}
	return b.String()
}
