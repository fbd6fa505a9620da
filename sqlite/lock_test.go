package sqlite_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/activityd/activityd/sqlite"
)

// TestOpen_OneProcess: a database open in one Store is refused to another, naming the process that
// holds it; once closed it opens again.
func TestOpen_OneProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "activityd.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = sqlite.Open(t.Context(), path)
	if err == nil || !strings.Contains(err.Error(), "is in use by process "+strconv.Itoa(os.Getpid())) || !strings.Contains(err.Error(), "PostgreSQL") {
		t.Fatalf("a second Open = %v, want a refusal naming this process", err)
	}
	s.Close()
	s, err = sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s.Close()
}
