package activity_test

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/activityd/activityd"
)

func TestPublicIDs(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 8)
	key = append(append(key, bytes.Repeat([]byte{9}, 8)...), bytes.Repeat([]byte{11}, 8)...)
	ids, err := activity.NewPublicIDs(key)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := activity.NewPublicIDs(append(bytes.Repeat([]byte{1}, 23), 2))
	seen := map[int64]bool{}
	r := rand.New(rand.NewPCG(1, 2))
	// Stored ids as SQLite makes them (neighbours in the high bits) and at the ends of the range.
	stored := []int64{1, 2, 3, 1<<63 - 1, 1<<63 - 2, 1 << 62, 0x1234_0000_0000_0001, 0x1234_0000_0000_0002}
	for range 2000 {
		stored = append(stored, r.Int64N(1<<63-1)+1)
	}
	for _, s := range stored {
		pub := ids.Public(s)
		if pub <= 0 {
			t.Fatalf("Public(%d) = %d, not a positive 63-bit number", s, pub)
		}
		if back := ids.Stored(pub); back != s {
			t.Fatalf("Stored(Public(%d)) = %d", s, back)
		}
		if seen[pub] {
			t.Fatalf("Public(%d) = %d twice", s, pub)
		}
		seen[pub] = true
		if other.Public(s) == pub {
			t.Errorf("another key gives the same public id for %d", s)
		}
	}
	// Neighbouring stored ids share no visible prefix.
	a, b := ids.Public(0x1234_0000_0000_0001), ids.Public(0x1234_0000_0000_0002)
	if a>>48 == b>>48 {
		t.Errorf("neighbouring stored ids have public ids with the same high bits: %x %x", a, b)
	}
	if _, err := activity.NewPublicIDs([]byte("short")); err == nil {
		t.Error("NewPublicIDs accepted a 5-byte key")
	}
}

func BenchmarkPublicIDs(b *testing.B) {
	ids, _ := activity.NewPublicIDs(bytes.Repeat([]byte{7}, activity.PublicIDKeySize))
	b.ReportAllocs()
	var id int64 = 12345
	for b.Loop() {
		id = ids.Stored(ids.Public(id))
	}
}
