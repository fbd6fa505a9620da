package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

const healthSynopsis = `Usage: activityd health [--addr ADDR | --url URL]

Asks a server whether it is ready (GET /readyz): exit 0 and "ok" when it is, else exit 1 with the
reason. For a container's or a supervisor's health check: it reads the server's own ACTIVITYD_ADDR
(and ACTIVITYD_TLS, ACTIVITYD_TLS_CERT), so the same environment checks the address the server
listens on, over https when it serves https. Flags:
`

// health is the activityd health command.
func health(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	addr, target, tlsMode, tlsCert := "127.0.0.1:8080", "", "", ""
	fs := flag.NewFlagSet("activityd health", flag.ContinueOnError)
	fs.StringVar(&addr, "addr", addr, "the `address` the server listens on (as for serve; a wildcard host means this machine)")
	fs.StringVar(&tlsMode, "tls", "", "as for serve: self-signed means the server at --addr speaks https")
	fs.StringVar(&tlsCert, "tls-cert", "", "as for serve: a certificate `file` means the server at --addr speaks https")
	fs.StringVar(&target, "url", "", "the server's `URL` instead (behind a proxy; its certificate is verified)")
	rest, err := parseFlagsArgs(fs, args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout, fs, healthSynopsis)
		return nil
	} else if err != nil {
		return err
	}
	if len(rest) != 0 {
		return usagef("health", "takes no arguments")
	}
	client := &http.Client{}
	if target == "" {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return usagef("health", "--addr %q: %v", addr, err)
		}
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			host = "127.0.0.1"
		}
		target = "http://" + net.JoinHostPort(host, port)
		if tlsMode != "" || tlsCert != "" {
			target = "https://" + net.JoinHostPort(host, port)
			// The server's own address on this machine: the probe asks the process there whether
			// it is ready, and its certificate (self-signed, or for its public name) is not what
			// is being checked.
			if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
				client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(target, "/")+"/readyz", nil)
	if err != nil {
		return usagef("health", "--url %q: %v", target, err)
	}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1024))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: %s %s", res.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}
