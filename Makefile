# The commands of activityd, indexed. CI runs .ci/run, which calls the same commands.
.PHONY: run test test-sdk lint fuzz ci release image

run:        ## the server on the embedded default (SQLite and a local token issuer in ./activityd-data)
	go run ./cmd/activityd serve

test:       ## the unit, store and HTTP tests
	go test -race -count=1 ./...

test-sdk:   ## the official Graph Go SDK against the real server
	cd compat/msgraph && go test -count=1 ./...

lint:
	test -z "$$(gofmt -l $$(git ls-files '*.go'))"
	go vet ./...
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

fuzz:       ## each fuzz target for FUZZTIME executions (a count: go1.26 can flake on a duration, golang/go#75804)
	for t in FuzzParseFilter FuzzParseExpand FuzzParseDateTime; do go test -run '^$$' -fuzz "^$$t\$$" -fuzztime $${FUZZTIME:-5000000x} ./odata || exit 1; done
	for t in FuzzParsePath FuzzSkipToken FuzzDecodeActivity FuzzDecodeHistoryItem FuzzParseBatch; do go test -run '^$$' -fuzz "^$$t\$$" -fuzztime $${FUZZTIME:-5000000x} ./graph || exit 1; done

ci:
	bash .ci/run

release:    ## a static, reproducible binary in dist/ (no cgo, no local paths; the commit from git)
	CGO_ENABLED=0 go build -trimpath -buildvcs=true -ldflags='-s -w' -o dist/activityd ./cmd/activityd
	dist/activityd version

image: release  ## the container image activityd:latest (Dockerfile: the release binary on scratch, non-root)
	mkdir -p dist/empty
	cp /etc/ssl/certs/ca-certificates.crt dist/ca-certificates.crt
	docker build -t $${IMAGE:-activityd} .
