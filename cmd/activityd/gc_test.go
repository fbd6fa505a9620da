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
	t.Setenv("GOGC", "50")
	if got := setGCPercent(); got != "50 (GOGC)" {
		t.Errorf("setGCPercent() with GOGC=50 = %q, want 50 (GOGC)", got)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("setGCPercent changed the target (%d) although GOGC was set", got)
	}
}
