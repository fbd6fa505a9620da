package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows how far a long command has come: a bar (github.com/schollz/progressbar) when its
// output is a terminal, else a plain line every 10 seconds, so that logs of scripted runs stay
// readable. Messages printed through it do not tear the bar.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	name  string
	total int64
	n     int64
	bar   *progressbar.ProgressBar
	last  time.Time
	ended bool
	items bool // counting items, not bytes
}

// newProgress returns the progress of reading name, total bytes long (-1 when unknown), shown on w.
func newProgress(w io.Writer, name string, total int64) *progress {
	p := &progress{w: w, name: name, total: total, last: time.Now()}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(name),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	return p
}

// countItems switches the display from bytes to a count of activities, of unknown total.
func (p *progress) countItems() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total, p.items = -1, true
	if p.bar != nil {
		p.bar.Finish()
		p.bar = progressbar.NewOptions64(-1, progressbar.OptionSetWriter(p.w), progressbar.OptionSetDescription(p.name),
			progressbar.OptionShowCount(), progressbar.OptionSetItsString("activities"), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish())
	}
}

// add counts n more bytes read (or items, after unit).
func (p *progress) add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n += int64(n)
	switch {
	case p.ended:
	case p.bar != nil:
		p.bar.Add(n)
	case time.Since(p.last) >= 10*time.Second:
		p.last = time.Now()
		if p.items {
			fmt.Fprintf(p.w, "%s: %d activities read\n", p.name, p.n)
		} else if p.total > 0 {
			fmt.Fprintf(p.w, "%s: read %d%% (%d of %d bytes)\n", p.name, p.n*100/p.total, p.n, p.total)
		} else {
			fmt.Fprintf(p.w, "%s: read %d bytes\n", p.name, p.n)
		}
	}
}

// println prints a message line above the bar.
func (p *progress) println(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil && !p.ended {
		p.bar.Clear()
	}
	fmt.Fprintln(p.w, msg)
}

// done removes the bar; it may be called more than once.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil && !p.ended {
		p.bar.Finish()
	}
	p.ended = true
}
