package main

import (
	"fmt"
	"runtime/debug"
)

// versionLine says what this binary is, from the build information the Go toolchain embeds
// (runtime/debug.ReadBuildInfo): the module version ("(devel)" for a build from a checkout), the
// VCS commit and its time with "+dirty" when the tree had changes, and the Go version.
func versionLine() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "activityd (no build information)"
	}
	var rev, at, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	line := "activityd " + bi.Main.Version
	if rev != "" {
		line += fmt.Sprintf(" commit %s%s (%s)", rev[:min(12, len(rev))], dirty, at)
	}
	return line + " " + bi.GoVersion
}
