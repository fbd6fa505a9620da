package main

import (
	"math/rand/v2"
	"testing"
)

func TestParseMix(t *testing.T) {
	mix, err := parseMix(defaultMix)
	if err != nil || len(mix) != 6 {
		t.Fatalf("parseMix(%q) = %v, %v; want 6 weights", defaultMix, mix, err)
	}
	for _, bad := range []string{"", "get", "get=0", "get=-1", "get=x", "fly=1", "mix=1", "get=1,"} {
		if _, err := parseMix(bad); err == nil {
			t.Errorf("parseMix(%q) accepted", bad)
		}
	}
}

func TestPick(t *testing.T) {
	mix, _ := parseMix("get=3,create=1")
	c := config{mix: mix}
	rnd := rand.New(rand.NewPCG(1, 2))
	if got := c.pick("list", rnd); got != "list" {
		t.Errorf("pick(list) = %s, want list itself", got)
	}
	counts := map[string]int{}
	for range 40000 {
		counts[c.pick("mix", rnd)]++
	}
	// 3:1 of 40,000 is 30,000:10,000; a fixed seed makes the draw the same on every run.
	if len(counts) != 2 || counts["get"] < 29000 || counts["get"] > 31000 {
		t.Errorf("pick(mix) drew %v, want about 30000 get and 10000 create", counts)
	}
}
