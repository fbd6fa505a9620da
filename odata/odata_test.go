package odata

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestParseFilter(t *testing.T) {
	const lm = "lastModifiedDateTime"
	tests := []struct {
		in   string
		want Filter
	}{
		{"lastModifiedDateTime gt 2018-01-22T21:45:00.347Z", Filter{{lm, Gt, mustTime("2018-01-22T21:45:00.347Z")}}},
		{"lastModifiedDateTime lt 2018-01-16T01:03:21.347Z and lastModifiedDateTime gt 2018-01-03T01:03:21.347Z",
			Filter{{lm, Lt, mustTime("2018-01-16T01:03:21.347Z")}, {lm, Gt, mustTime("2018-01-03T01:03:21.347Z")}}},
		{"(lastModifiedDateTime ge 2026-11-26T02:41:34Z) AND (lastModifiedDateTime LE 2026-11-26T02:41:34+03:00)",
			Filter{{lm, Ge, mustTime("2026-11-26T02:41:34Z")}, {lm, Le, mustTime("2026-11-25T23:41:34Z")}}},
		{"  lastModifiedDateTime   eq 2015-02-11T20:54:04.3457274+00:00 ", Filter{{lm, Eq, mustTime("2015-02-11T20:54:04.3457274Z")}}},
		{"((lastModifiedDateTime gt 2018-01-22T21:45:00Z))", Filter{{lm, Gt, mustTime("2018-01-22T21:45:00Z")}}},
	}
	for _, tc := range tests {
		got, err := ParseFilter(tc.in)
		if err != nil {
			t.Errorf("ParseFilter(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParseFilter(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestParseFilter_Errors(t *testing.T) {
	tests := []struct{ in, mention string }{
		{"", "empty"},
		{"lastModifiedDateTime", "no operator"},
		{"lastModifiedDateTime gt", "no value"},
		{"lastModifiedDateTime ne 2018-01-22T21:45:00Z", "'ne' is not supported"},
		{"lastModifiedDateTime gt 2018-01-22", "not a date-time"},
		{"lastModifiedDateTime gt 2018-01-22T21:45:00", "not a date-time"},            // no zone
		{"lastModifiedDateTime gt 2018-01-22T21:45:00.123456789Z", "not a date-time"}, // 9 digits
		{"lastModifiedDateTime gt 2018-01-22T21:45:00Z or lastModifiedDateTime lt 2019-01-01T00:00:00Z", "unexpected 'or'"},
		{"(lastModifiedDateTime gt 2018-01-22T21:45:00Z", "not closed"},
		{"'x' eq 2018-01-22T21:45:00Z", "expected a property name"},
		{strings.Repeat("(", 100) + "lastModifiedDateTime gt 2018-01-22T21:45:00Z", "nested"},
		{strings.Repeat("lastModifiedDateTime gt 2018-01-22T21:45:00Z and ", 20) + "lastModifiedDateTime gt 2018-01-22T21:45:00Z", "more than"},
	}
	for _, tc := range tests {
		_, err := ParseFilter(tc.in)
		var se *SyntaxError
		if !errors.As(err, &se) || se.Option != "$filter" || !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("ParseFilter(%q) = %v, want a $filter error mentioning %q", tc.in, err, tc.mention)
		}
	}
}

func TestParseDateTime(t *testing.T) {
	good := map[string]string{
		"2026-11-27T02:25:48Z":              "2026-11-27T02:25:48Z",
		"2026-11-27T02:25:48.020Z":          "2026-11-27T02:25:48.02Z",
		"2015-02-11T20:54:04.3457274+00:00": "2015-02-11T20:54:04.3457274Z",
		"2016-12-31T23:57:53.4850868+03:00": "2016-12-31T20:57:53.4850868Z",
		"2026-11-27T02:25:48-05:30":         "2026-11-27T07:55:48Z",
	}
	for in, want := range good {
		got, err := ParseDateTime(in)
		if err != nil || FormatDateTime(got) != want {
			t.Errorf("ParseDateTime(%q) = %v, %v; want %s", in, FormatDateTime(got), err, want)
		}
	}
	for _, in := range []string{"", "2026-11-27", "2026-11-27T02:25:56.6595947", "2026-11-27 02:25:48Z",
		"2026-13-27T02:25:48Z", "2026-11-27T02:25:48.Z", "2026-11-27T02:25:48.12345678Z", "yesterday"} {
		if _, err := ParseDateTime(in); err == nil {
			t.Errorf("ParseDateTime(%q) succeeded, want an error", in)
		}
	}
}

func TestParseExpand(t *testing.T) {
	got, err := ParseExpand("historyItems($filter=lastModifiedDateTime gt 2018-01-22T21:45:00.347Z and lastModifiedDateTime lt 2018-01-22T22:00:00.347Z)")
	if err != nil {
		t.Fatal(err)
	}
	want := []Expand{{Property: "historyItems", Filter: Filter{
		{"lastModifiedDateTime", Gt, mustTime("2018-01-22T21:45:00.347Z")},
		{"lastModifiedDateTime", Lt, mustTime("2018-01-22T22:00:00.347Z")}}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseExpand (-want +got):\n%s", diff)
	}
	if got, err := ParseExpand("historyItems"); err != nil || len(got) != 1 || got[0].Filter != nil {
		t.Errorf("ParseExpand(historyItems) = %v, %v", got, err)
	}
	for _, in := range []string{"historyItems($top=1)", "historyItems($filter=x)", "historyItems(", "*", ""} {
		if _, err := ParseExpand(in); err == nil {
			t.Errorf("ParseExpand(%q) succeeded, want an error", in)
		}
	}
}

func TestParseTopSelectCount(t *testing.T) {
	if n, err := ParseTop("5"); n != 5 || err != nil {
		t.Errorf("ParseTop(5) = %d, %v", n, err)
	}
	for _, in := range []string{"0", "-1", "x", "", "1.5", "99999999999999999999"} {
		if _, err := ParseTop(in); err == nil {
			t.Errorf("ParseTop(%q) succeeded", in)
		}
	}
	if got, err := ParseSelect("id, appActivityId,visualElements"); err != nil || len(got) != 3 || got[1] != "appActivityId" {
		t.Errorf("ParseSelect = %v, %v", got, err)
	}
	if _, err := ParseSelect("id,,x"); err == nil {
		t.Error("ParseSelect with an empty name succeeded")
	}
	if c, err := ParseCount("TRUE"); !c || err != nil {
		t.Errorf("ParseCount(TRUE) = %v, %v", c, err)
	}
	if _, err := ParseCount("yes"); err == nil {
		t.Error("ParseCount(yes) succeeded")
	}
}

func FuzzParseFilter(f *testing.F) {
	f.Add("lastModifiedDateTime gt 2018-01-22T21:45:00.347Z and lastModifiedDateTime lt 2018-01-22T22:00:00.347Z")
	f.Add("(lastModifiedDateTime ge 2026-11-26T02:41:34+03:00)")
	f.Add("((((")
	f.Fuzz(func(t *testing.T, s string) {
		filter, err := ParseFilter(s)
		if err != nil {
			return
		}
		again, err := ParseFilter(filter.String())
		if err != nil {
			t.Fatalf("ParseFilter(%q) = %v, whose String %q does not parse: %v", s, filter, filter.String(), err)
		}
		if diff := cmp.Diff(filter, again); diff != "" {
			t.Fatalf("round trip of %q differs:\n%s", s, diff)
		}
	})
}

func FuzzParseExpand(f *testing.F) {
	f.Add("historyItems($filter=lastModifiedDateTime gt 2018-01-22T21:45:00.347Z)")
	f.Add("historyItems(;;)")
	f.Fuzz(func(t *testing.T, s string) { _, _ = ParseExpand(s) })
}

func FuzzParseDateTime(f *testing.F) {
	f.Add("2016-12-31T23:57:53.4850868+03:00")
	f.Add("2026-11-27T02:25:48Z")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseDateTime(s)
		if err != nil {
			return
		}
		again, err := ParseDateTime(FormatDateTime(v))
		if err != nil || !again.Equal(v) {
			t.Fatalf("ParseDateTime(%q) = %v; its formatted form %q gives %v, %v", s, v, FormatDateTime(v), again, err)
		}
	})
}
