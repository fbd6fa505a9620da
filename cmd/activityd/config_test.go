package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/activityd/activityd"
)

// TestParseServe_Errors checks that every flag is validated before the server starts, with one line
// naming the flag (or the environment variable), the value and what is wanted.
func TestParseServe_Errors(t *testing.T) {
	tests := []struct {
		args    []string
		env     map[string]string
		mention string
	}{
		{args: []string{"--page-size", "0"}, mention: "--page-size 0: want 1 to"},
		// A value from the environment that fails a check names its variable.
		{env: map[string]string{"ACTIVITYD_HEARTBEAT": "0s"}, mention: "ACTIVITYD_HEARTBEAT (--heartbeat) 0s: want a duration of at least 1s"},
		{env: map[string]string{"ACTIVITYD_PUBLIC_URL": "nope"}, mention: "ACTIVITYD_PUBLIC_URL (--public-url) \"nope\": want"},
		{args: []string{"--heartbeat", "0s"}, env: map[string]string{"ACTIVITYD_HEARTBEAT": "20s"}, mention: "--heartbeat 0s: want"},
		{args: []string{"--cors-origins", "ftp://x"}, mention: "--cors-origins \"ftp://x\": want origins"},
		{args: []string{"--max-page-bytes", "10"}, mention: "--max-page-bytes 10: want 65536"},
		{args: []string{"--webhook-allow", "nope"}, mention: "--webhook-allow: \"nope\": want addresses"},
		{args: []string{"--max-page-size", "20000"}, mention: "--max-page-size 20000: want 1 to 10000"},
		{args: []string{"--log-format", "xml"}, mention: "--log-format \"xml\": want text or json"},
		{args: []string{"--log-level", "verbose"}, mention: "--log-level \"verbose\": want debug, info, warn or error"},
		{args: []string{"--local-issuer=false"}, mention: "--local-issuer=false: want --trust-issuer"},
		{args: []string{"--trust-issuer", "https://x"}, mention: "--trust-issuer and --trust-jwks"},
		{args: []string{"--trust-issuer", "https://idp.example", "--trust-jwks", "http://idp.example/keys"}, mention: "--trust-jwks \"http://idp.example/keys\": want an https URL"},
		{args: []string{"--trust-issuer", "idp", "--trust-jwks", "https://idp.example/keys"}, mention: "--trust-issuer \"idp\": want an https URL"},
		{args: []string{"--trust-issuer", "https://activityd.local", "--trust-jwks", "https://idp.example/keys"}, mention: "want another issuer than the local one"},
		{args: []string{"--issuer-name", "activityd"}, mention: "--issuer-name \"activityd\": want an absolute https URL"},
		{args: []string{"extra"}, mention: "unexpected argument \"extra\""},
		{args: []string{"--no-such-flag"}, mention: "unknown flag --no-such-flag"},
		{args: []string{"--addr"}, mention: "--addr needs a value"},
		{args: []string{"--addr", "8080"}, mention: "--addr \"8080\": want host:port"},
		{args: []string{"--addr", "127.0.0.1:99999"}, mention: "--addr \"127.0.0.1:99999\": want host:port"},
		{args: []string{"--debug-addr", "localhost"}, mention: "--debug-addr \"localhost\": want host:port"},
		{args: []string{"--read-limits", "lots"}, mention: "--read-limits \"lots\": want rates such as 100/5m"},
		{args: []string{"--write-limits", "5/1ms"}, mention: "--write-limits \"5/1ms\": want rates"},
		{args: []string{"--db", "mysql://x"}, mention: "--db \"mysql://x\": want a postgres:// URL"},
		{args: []string{"--tls", "yes"}, mention: "--tls \"yes\": want self-signed"},
		{args: []string{"--tls-cert", "c.pem"}, mention: "--tls-cert and --tls-key: want both"},
		{args: []string{"--tls", "self-signed", "--tls-cert", "c", "--tls-key", "k"}, mention: "want one or the other"},
		{args: []string{"--max-body", "lots"}, mention: "--max-body \"lots\": want an integer"},
		{args: []string{"--max-body", "100"}, mention: "--max-body 100: want 1024 to"},
		{args: []string{"--max-header-bytes", "1000000000"}, mention: "--max-header-bytes 1000000000: want 4096 to"},
		{args: []string{"--max-json-depth", "2"}, mention: "--max-json-depth 2: want 4 to"},
		{args: []string{"--max-content-bytes", "2000000"}, mention: "--max-content-bytes 2000000: want 1024 to --max-body"},
		{args: []string{"--max-deep-insert", "0"}, mention: "--max-deep-insert 0: want 1 to"},
		{args: []string{"--throttle", "maybe"}, mention: "unexpected argument"}, // a bool flag takes --throttle=false
		{args: []string{"--throttle=maybe"}, mention: "--throttle \"maybe\": want true or false"},
		{args: []string{"--read-header-timeout", "0"}, mention: "--read-header-timeout 0s: want a positive duration"},
		{args: []string{"--read-header-timeout", "-1s"}, mention: "--read-header-timeout -1s: want a positive duration"},
		{args: []string{"--read-header-timeout", "10"}, mention: "--read-header-timeout \"10\": want a duration such as 30s"},
		{args: []string{"--shutdown-timeout", "-5s"}, mention: "--shutdown-timeout -5s: want a positive duration"},
		{args: []string{"--purge-interval", "-1m"}, mention: "--purge-interval -1m0s: want 0 (no purge) or"},
		{args: []string{"--purge-interval", "1ms"}, mention: "--purge-interval 1ms: want 0 (no purge) or"},
		{args: []string{"--audience", ""}, mention: "--audience: want at least one audience"},
		{args: []string{"--scopes", " , "}, mention: "--scopes: want at least one scope"},
		{env: map[string]string{"ACTIVITYD_MAX_BODY": "lots"}, mention: `ACTIVITYD_MAX_BODY="lots": want an integer`},
		{env: map[string]string{"ACTIVITYD_THROTTLE": "yes"}, mention: `ACTIVITYD_THROTTLE="yes": want true or false`},
		{env: map[string]string{"ACTIVITYD_PURGE_INTERVAL": "10"}, mention: `ACTIVITYD_PURGE_INTERVAL="10": want a duration`},
		{env: map[string]string{"ACTIVITYD_WRITE_LIMITS": "100"}, mention: `ACTIVITYD_WRITE_LIMITS="100": want rates`},
		{env: map[string]string{"ACTIVITYD_LOG_LEVEL": "loud"}, mention: `ACTIVITYD_LOG_LEVEL (--log-level) "loud": want debug, info, warn or error`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " ")+fmt.Sprint(tc.env), func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(t.Context(), append([]string{"serve"}, tc.args...), func(k string) string { return tc.env[k] }, &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("serve %q = %v, want an error mentioning %q", tc.args, err, tc.mention)
			}
			var printed bytes.Buffer
			if code := exit(err, &printed); code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			want := "activityd: " + err.Error() + "\nrun 'activityd serve -h' for usage\n"
			if printed.String() != want || strings.Count(err.Error(), "\n") > 0 {
				t.Errorf("printed %q, want %q", printed.String(), want)
			}
			if out.Len()+errOut.Len() > 0 {
				t.Errorf("printed the usage too: %q %q", out.String(), errOut.String())
			}
		})
	}
}

// TestParseServe_Zero checks the values where 0 has a meaning.
func TestParseServe_Zero(t *testing.T) {
	c, err := parseServe([]string{"--purge-interval", "0", "--addr", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard)
	if err != nil || c.Purge != 0 {
		t.Fatalf("--purge-interval 0 = %+v, %v; want the purge off", c, err)
	}
}

// TestHelp checks that -h prints the usage on stdout and succeeds, for every command, and that the
// usage of serve names the environment variables.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}, {"serve", "-h"}, {"serve", "--help"}, {"token", "-h"}, {"cert", "-h"},
		{"activities", "-h"}, {"activities", "list", "-h"}, {"export", "-h"}, {"import", "-h"}, {"backup", "-h"}, {"restore", "-h"},
		{"user", "-h"}, {"app", "-h"}, {"keys", "-h"}, {"login", "-h"}, {"health", "-h"}} {
		var out, errOut bytes.Buffer
		err := run(t.Context(), args, func(string) string { return "" }, &out, &errOut)
		if err != nil || exit(err, io.Discard) != 0 {
			t.Errorf("%q = %v, want success", args, err)
		}
		if out.Len() == 0 || errOut.Len() != 0 {
			t.Errorf("%q printed %q on stdout and %q on stderr; want the usage on stdout", args, out.String(), errOut.String())
		}
	}
	var top bytes.Buffer
	run(t.Context(), []string{"-h"}, func(string) string { return "" }, &top, io.Discard)
	for _, want := range []string{"activityd serve -h", "token, cert, activities, export, import, user, app, keys, login,\nbackup, restore", "ACTIVITYD_"} {
		if !strings.Contains(top.String(), want) {
			t.Errorf("activityd -h does not mention %q:\n%s", want, top.String())
		}
	}
	var serve bytes.Buffer
	run(t.Context(), []string{"serve", "-h"}, func(string) string { return "" }, &serve, io.Discard)
	for _, want := range []string{"--addr address  [ACTIVITYD_ADDR]", "[ACTIVITYD_SHUTDOWN_TIMEOUT]", "--shutdown-timeout duration",
		"(default 127.0.0.1:8080)", "--throttle  [ACTIVITYD_THROTTLE]", "0 turns the purge off", "environment variable"} {
		if !strings.Contains(serve.String(), want) {
			t.Errorf("activityd serve -h does not mention %q:\n%s", want, serve.String())
		}
	}
}

func TestParseRates(t *testing.T) {
	rates, err := parseRates("100/5m, 8000/24h")
	if err != nil || len(rates) != 2 || rates[0] != (activity.Rate{N: 100, Per: 5 * time.Minute}) || rates[1].Per != 24*time.Hour {
		t.Fatalf("parseRates = %v, %v", rates, err)
	}
	if got := fmt.Sprint(rates); got != "[100/5m 8000/24h]" {
		t.Errorf("String = %s", got)
	}
	for _, bad := range []string{"", "100", "x/5m", "100/x", "0/5m", "100/1ms", "100/5m,"} {
		if _, err := parseRates(bad); err == nil {
			t.Errorf("parseRates(%q) succeeded", bad)
		}
	}
}

// TestREADME_ConfigurationTable keeps the README's table of serve's flags and the flag set one list:
// every flag is in the table, and every flag the table names exists.
func TestREADME_ConfigurationTable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(b)
	start := strings.Index(section, "\n## Configuration\n")
	if start < 0 {
		t.Fatal("the README has no Configuration section")
	}
	section = section[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	inTable := map[string]bool{}
	for line := range strings.Lines(section) {
		if !strings.HasPrefix(line, "| `--") {
			continue
		}
		cell := strings.Split(line, "|")[1]
		for _, m := range regexp.MustCompile("`--([a-z0-9-]+)").FindAllStringSubmatch(cell, -1) {
			inTable[m[1]] = true
		}
	}
	c := DefaultConfig()
	flags := map[string]bool{}
	serveFlags(&c).VisitAll(func(f *flag.Flag) { flags[f.Name] = true })
	if len(flags) < 40 || len(inTable) < 40 {
		t.Fatalf("%d flags, %d in the table: the test reads the wrong section", len(flags), len(inTable))
	}
	for name := range flags {
		if !inTable[name] {
			t.Errorf("--%s is not in the README's configuration table", name)
		}
	}
	for name := range inTable {
		if !flags[name] {
			t.Errorf("the README's configuration table names --%s, which activityd serve does not have", name)
		}
	}
}

// TestConfigReference keeps docs/configuration.md, the reference of every flag of serve (with its
// environment variable, default and help), generated from the flag set itself: a flag added,
// renamed or reworded changes the file, and the test fails until it is generated again with
// ACTIVITYD_UPDATE_DOCS=1 go test -run TestConfigReference ./cmd/activityd.
func TestConfigReference(t *testing.T) {
	const path = "../../docs/configuration.md"
	var b strings.Builder
	b.WriteString("# activityd serve: every flag\n\n")
	b.WriteString("Generated from the flag set by `TestConfigReference` (`ACTIVITYD_UPDATE_DOCS=1 go test -run TestConfigReference ./cmd/activityd`);\n")
	b.WriteString("do not edit by hand. The README's Configuration section explains them by topic. Each flag is also\n")
	b.WriteString("read from its environment variable; a flag on the command line wins.\n\n")
	b.WriteString("| Flag | Environment variable | Default | |\n|---|---|---|---|\n")
	c := DefaultConfig()
	serveFlags(&c).VisitAll(func(f *flag.Flag) {
		typ, usage := flag.UnquoteUsage(f)
		if typ != "" {
			typ = " " + typ
		}
		def := ""
		if f.DefValue != "" {
			def = "`" + f.DefValue + "`"
		}
		usage = strings.ReplaceAll(strings.ReplaceAll(usage, "\n", " "), "|", "\\|")
		fmt.Fprintf(&b, "| `--%s%s` | `%s` | %s | %s |\n", f.Name, typ, envFlag(f.Name), def, usage)
	})
	want := b.String()
	if os.Getenv("ACTIVITYD_UPDATE_DOCS") != "" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Errorf("%s is not the flag set's reference (%v): generate it again with ACTIVITYD_UPDATE_DOCS=1 go test -run TestConfigReference ./cmd/activityd", path, err)
	}
}
