package graph_test

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/graph"
	"github.com/activityd/activityd/postgres"
	"github.com/anishathalye/porcupine"
)

// kvInput is one operation of the linearizability test: a PUT of value, a GET or a DELETE of key.
type kvInput struct {
	op, key, value string
}

// kvOutput is what the server answered: the status, and the value a GET read.
type kvOutput struct {
	status int
	value  string
}

// activityModel is the specification the history is checked against (porcupine's Model): each key
// holds an activity's displayText or nothing; PUT creates (201) or replaces (200); GET reads (200)
// or finds nothing (404); DELETE removes (204) or finds nothing (404). Keys are independent, so the
// history is checked key by key.
var activityModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(kvInput).key
			byKey[k] = append(byKey[k], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range byKey {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return "" }, // "" is absent: values are never empty
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(string), input.(kvInput), output.(kvOutput)
		switch in.op {
		case "PUT":
			if s == "" {
				return out.status == http.StatusCreated, in.value
			}
			return out.status == http.StatusOK, in.value
		case "GET":
			if s == "" {
				return out.status == http.StatusNotFound, s
			}
			return out.status == http.StatusOK && out.value == s, s
		default: // DELETE
			if s == "" {
				return out.status == http.StatusNotFound, s
			}
			return out.status == http.StatusNoContent, ""
		}
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(kvInput), output.(kvOutput)
		return fmt.Sprintf("%s %s %s -> %d %s", in.op, in.key, in.value, out.status, out.value)
	},
}

// TestLinearizable: 16 clients PUT, GET and DELETE three keys at random; the history of calls and
// answers, with their times, is checked with porcupine (github.com/anishathalye/porcupine) against
// activityModel: every answer is one a single copy of the data could have given, at some instant
// between the call and the answer. Run on both stores (ACTIVITYD_TEST_STORE); on PostgreSQL the
// clients go through two servers, each with its own store and pool, as two processes would.
func TestLinearizable(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	bases := []string{e.srv.URL}
	if e.pgURL != "" {
		store, err := postgres.Open(t.Context(), e.pgURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		second := httptest.NewServer(graph.NewServer(activity.NewService(store), e.verifier, slog.New(slog.DiscardHandler)))
		t.Cleanup(second.Close)
		bases = append(bases, second.URL)
	}
	keys := []string{"a", "b", "c"}
	var mu sync.Mutex
	var history []porcupine.Operation
	var wg sync.WaitGroup
	for c := range 16 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 1))
			base := bases[c%len(bases)]
			for i := range 40 {
				in := kvInput{key: keys[rng.IntN(len(keys))]}
				switch rng.IntN(3) {
				case 0:
					in.op, in.value = "PUT", fmt.Sprintf("v%d-%d", c, i)
				case 1:
					in.op = "GET"
				default:
					in.op = "DELETE"
				}
				call := time.Now().UnixNano()
				var out kvOutput
				switch in.op {
				case "PUT":
					body := fmt.Sprintf(`{"appActivityId":%q,"activitySourceHost":"https://x.example","activationUrl":"https://x.example/%s","visualElements":{"displayText":%q}}`, in.key, in.key, in.value)
					out.status = alice.do("PUT", base+"/v1.0/me/activities/"+in.key, body).status
				case "GET":
					r := alice.do("GET", base+"/v1.0/me/activities/"+in.key, nil)
					out.status = r.status
					if r.status == http.StatusOK {
						out.value = r.json()["visualElements"].(map[string]any)["displayText"].(string)
					}
				default:
					out.status = alice.do("DELETE", base+"/v1.0/me/activities/"+in.key, nil).status
				}
				ret := time.Now().UnixNano()
				mu.Lock()
				history = append(history, porcupine.Operation{ClientId: c, Input: in, Call: call, Output: out, Return: ret})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	statuses := map[int]int{}
	for _, op := range history {
		statuses[op.Output.(kvOutput).status]++
	}
	for s := range statuses {
		if !slices.Contains([]int{200, 201, 204, 404}, s) {
			t.Fatalf("answers: %v", statuses)
		}
	}
	if !porcupine.CheckOperations(activityModel, history) {
		t.Errorf("the history of %d operations is not linearizable (answers: %v)", len(history), statuses)
	}
	// And the checker can fail: a GET that read a value no one wrote is not linearizable.
	bad := append(slices.Clone(history), porcupine.Operation{ClientId: 99, Input: kvInput{op: "GET", key: "a"},
		Call: time.Now().UnixNano(), Output: kvOutput{status: 200, value: "never written"}, Return: time.Now().UnixNano() + 1})
	if porcupine.CheckOperations(activityModel, bad) {
		t.Error("a history with a read of a value never written passed the check")
	}
	t.Logf("%d operations through %d servers: %v", len(history), len(bases), statuses)
}
