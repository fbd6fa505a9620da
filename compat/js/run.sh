#!/usr/bin/env bash
# Runs the JavaScript client's tests against a freshly built activityd over TLS: installs the locked
# packages, creates the self-signed CA in a temporary data directory and trusts it for Node.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd ../.. && go build -o "$work/activityd" ./cmd/activityd)
npm ci --no-audit --no-fund --loglevel=error
export ACTIVITYD_BIN="$work/activityd" ACTIVITYD_DATA="$work/data"
NODE_EXTRA_CA_CERTS=$("$ACTIVITYD_BIN" cert --data "$ACTIVITYD_DATA") npm test
