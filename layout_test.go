package activity_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayout keeps the import arrows of STYLE.md §1 true as the tree grows: the root imports only
// the standard library; adapters (graph, auth, the stores) never import each other; odata imports
// nothing of ours; only cmd/ knows every concrete type.
func TestLayout(t *testing.T) {
	const module = "github.com/activityd/activityd"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	adapters := []string{"graph", "auth", "sqlite", "postgres", "web", "notify", "client", "provider", "relyingparty"}
	// forbidden lists, for a package, the packages of ours it must not import ("*" is any).
	forbidden := map[string][]string{
		"":             {"*"},
		"odata":        {"*"},
		"activitytest": {"graph", "auth", "sqlite", "postgres", "odata"},
	}
	for _, a := range adapters {
		for _, b := range adapters {
			if a != b {
				forbidden[a] = append(forbidden[a], b)
			}
		}
	}
	forbidden["graph"] = append(forbidden["graph"], "postgres/pgtest")
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(strings.TrimPrefix(fields[0], module), "/")
		rules, ok := forbidden[pkg]
		if !ok {
			continue
		}
		checked++
		for _, imp := range fields[1:] {
			if pkg == "" && !strings.Contains(strings.Split(imp, "/")[0], ".") {
				continue // the standard library
			}
			if pkg == "" {
				t.Errorf("the root package imports %s; it may import the standard library only", imp)
				continue
			}
			if !strings.HasPrefix(imp, module+"/") && imp != module {
				continue
			}
			ours := strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
			for _, f := range rules {
				if f == "*" && ours != "" || f == ours || strings.HasPrefix(ours, f+"/") {
					t.Errorf("%s imports %s, which the layout forbids", fields[0], imp)
				}
			}
		}
	}
	if checked < 5 {
		t.Errorf("checked %d packages; go list found fewer than the layout names", checked)
	}
}
