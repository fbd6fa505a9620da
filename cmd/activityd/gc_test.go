package main

import (
	"runtime/debug"
	"testing"
)

// TestSetGCPercent: serve sets the collector's target to defaultGCPercent unless GOGC is set, and
// says which applies.
func TestSetGCPercent(t *testing.T) {
	old := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(old) })
	t.Setenv("GOGC", "")
	if got := setGCPercent(); got != "200" {
		t.Errorf("setGCPercent() = %q, want 200", got)
	}
	if got := debug.SetGCPercent(100); got != defaultGCPercent {
		t.Errorf("the collector's target after setGCPercent: %d, want %d", got, defaultGCPercent)
	}
	// With GOGC set, the runtime has read it at start (here, the test's: 100, set above); the log
	// says what is in effect, and the variable as given.
	t.Setenv("GOGC", "abc")
	if got := setGCPercent(); got != `100 (GOGC="abc")` {
		t.Errorf("setGCPercent() with GOGC=abc = %q, want the value in effect, 100", got)
	}
	if got := debug.SetGCPercent(-1); got != 100 {
		t.Errorf("setGCPercent changed the target (%d) although GOGC was set", got)
	}
	if got := setGCPercent(); got != `off (GOGC="abc")` {
		t.Errorf("setGCPercent() with collection off = %q, want off", got)
	}
}
