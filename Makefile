GO ?= go
MODULES := .

.PHONY: all demo test vet unit bench generate fmt

all: test

## demo: run the main example program (a checkout workflow on a real bus)
demo:
	$(GO) run ./examples/checkout

## test: vet and race-test every module
test: vet unit

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 -timeout 15m ./...

## bench: micro-benchmarks of the hot paths
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./abxbus/...

## generate: run go:generate everywhere
generate:
	$(GO) generate ./...

fmt:
	gofmt -w $$(git ls-files '*.go')
