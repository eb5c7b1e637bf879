GO ?= go
# The nested modules are built as CI builds them: without a local go.work.
export GOWORK := off
# The interop tests against the TypeScript peer skip without Node outside CI; under make they are
# mandatory (interop-deps installs the peer, and a missing Node fails them).
export ABXBUS_REQUIRE_INTEROP := 1

MODULES := . ./cmd/watermillbench

.PHONY: all demo test interop-deps vet fmtcheck staticcheck gencheck unit bench generate fmt

# staticcheck at a pinned version; go run builds it once into the build cache.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

all: test

## demo: run the main example program (a checkout workflow on a real bus) and the generated-events
## example (events declared as Go types, used through the helpers abxbus-gen writes)
demo:
	$(GO) run ./examples/checkout
	$(GO) run ./examples/generated

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

## bench: the standard workloads (abxbus bench), the micro-benchmarks of the hot paths, and the
## watermill comparison on the 50k workload (prints the ratio)
bench:
	$(GO) run ./cmd/abxbus bench
	$(GO) test -run '^$$' -bench . -benchmem ./abxbus/...
	cd cmd/watermillbench && $(GO) run .

## generate: run go:generate everywhere (abxbus-gen writes the typed helpers of declared events)
generate:
	$(GO) generate ./...

fmt:
	gofmt -w $$(git ls-files '*.go')
