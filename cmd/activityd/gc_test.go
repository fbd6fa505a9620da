package main

import (
	"math"
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

// TestMemoryLimit: the start-up log gives the runtime's memory limit, or none.
func TestMemoryLimit(t *testing.T) {
	old := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	if got := memoryLimit(); got != "none" {
		t.Errorf("memoryLimit() without a limit = %q, want none", got)
	}
	debug.SetMemoryLimit(100 << 20)
	if got := memoryLimit(); got != "104857600" {
		t.Errorf("memoryLimit() with 100 MiB = %q, want 104857600", got)
	}
}
