GO ?= go
# The nested modules are built as CI builds them: without a local go.work.
export GOWORK := off
# The interop tests against the TypeScript peer skip without Node outside CI; under make they are
# mandatory (interop-deps installs the peer, and a missing Node fails them).
export ABXBUS_REQUIRE_INTEROP := 1
# The bridge and middleware tests start their own servers (Postgres, Redis, NATS) on loopback; they skip
# without the server binaries outside CI, and under make a missing binary fails them (.ci/run installs them).
export ABXBUS_REQUIRE_SERVERS := 1

MODULES := . ./cmd/watermillbench ./abxbus/bridges/sqlite ./abxbus/bridges/postgres ./abxbus/bridges/redis ./abxbus/bridges/nats ./abxbus/middleware/sqlitemirror ./abxbus/middleware/otel ./cmd/abxbus-all

.PHONY: all demo test interop-deps vet fmtcheck staticcheck gencheck unit bench bench-upstream generate fmt

# staticcheck at a pinned version; go run builds it once into the build cache.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

all: test

## demo: run the main example program (a checkout workflow on a real bus), the generated-events
## example (events declared as Go types, used through the helpers abxbus-gen writes), the transcode
## example (a generated Encoder client calling two worker processes over JSONL queues, their retried
## handlers sharing two encoder slots through a multiprocess semaphore) and the service example
## (an existing Go interface moved onto a bus and across a JSONL bridge by a generated client)
demo:
	$(GO) run ./examples/checkout
	$(GO) run ./examples/generated
	$(GO) run ./examples/transcode
	$(GO) run ./examples/service

## test: gofmt, vet and staticcheck, check that generated code is fresh, and race-test every module
test: interop-deps fmtcheck vet staticcheck gencheck unit

## interop-deps: the pinned TypeScript peer (abxbus@2.5.56, zod@4.4.3) for the interop suite
interop-deps: testdata/interop/node_modules/.package-lock.json

testdata/interop/node_modules/.package-lock.json: testdata/interop/package.json testdata/interop/package-lock.json
	cd testdata/interop && npm ci --no-audit --no-fund

vet:
	for m in $(MODULES); do (cd $$m && $(GO) vet ./...) || exit 1; done

## fmtcheck: fail when a tracked Go file is not gofmt-formatted (make fmt fixes it)
fmtcheck:
	@out=$$($$($(GO) env GOROOT)/bin/gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## staticcheck: the default checks plus the doc-comment forms (staticcheck.conf), in every module
staticcheck:
	for m in $(MODULES); do (cd $$m && $(GO) run $(STATICCHECK) ./...) || exit 1; done

## gencheck: fail when a file abxbus-gen writes is missing or stale (run make generate to fix)
gencheck:
	$(GO) run ./cmd/abxbus-gen -check ./...

unit:
	for m in $(MODULES); do (cd $$m && $(GO) test -race -count=1 -timeout 15m ./...) || exit 1; done

## bench: the standard workloads (abxbus bench), each beside the machine's floors measured in the same
## run (channel request/reply, goroutine spawn+wait, 1 ms timer, 1.5 ms sleep), the micro-benchmarks
## of the hot paths, and watermill's GoChannel on the workloads' shapes (prints the ratios)
bench:
	$(GO) run ./cmd/abxbus bench
	$(GO) test -run '^$$' -bench . -benchmem ./abxbus/...
	cd cmd/watermillbench && $(GO) run .

## bench-upstream: optional, not part of bench: ours and the upstream Go port alternately, N runs each,
## per-workload min and median ratios. Needs UPSTREAM_MIRROR (a git dir of ArchiveBox/abxbus) and
## UPSTREAM_HARNESS (the harness folder, kept outside the project); runs in UPSTREAM_SCRATCH (outside
## the project, default $$TMPDIR/abxbus-upstream-perf). Without them it prints how to get them.
N ?= 3
bench-upstream:
	$(GO) run ./cmd/benchupstream -n $(N)

## generate: run go:generate everywhere (abxbus-gen writes the typed helpers of declared events)
generate:
	$(GO) generate ./...

fmt:
	gofmt -w $$(git ls-files '*.go')
