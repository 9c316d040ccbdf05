# scimd — see README.md. Every target works on a fresh machine with Go.
GO          ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
PKGS        := ./...
FUZZTIME    ?= 10s

.PHONY: run build test test-e2e fuzz lint fmt bench clean

## run: serve SCIM on 127.0.0.1:8080 on the embedded SQLite file scimd.db
run:
	$(GO) run ./cmd/scimd serve

## build: build bin/scimd
build:
	$(GO) build -o bin/scimd ./cmd/scimd

## test: formatting, go vet, staticcheck, then every test with -race.
## PostgreSQL tests run when TEST_DATABASE_URL is set (SCIMD_REQUIRE_PG=1 makes them mandatory).
test: lint
	$(GO) test -race -count=1 -timeout 45m $(PKGS)

## test-e2e: the console's end-to-end test in headless Chromium (/usr/bin/chromium, or
## SCIMD_CHROMIUM), on every backend; screenshots go to e2e-out/ (or SCIMD_E2E_OUT).
## It skips without a browser unless SCIMD_REQUIRE_BROWSER=1.
test-e2e:
	$(GO) test -race -tags e2e -count=1 -run E2E ./internal/console/

## fuzz: run every fuzz target for $(FUZZTIME) each, one after the other (FUZZTIME=60s for longer); scripts/fuzz.sh.
## Plain `make test` replays the committed corpora (testdata/fuzz/); a failing input is written there.
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

## lint: gofmt, go vet and staticcheck must be clean
lint:
	@unformatted="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	$(STATICCHECK) $(PKGS)

## fmt: gofmt every file
fmt:
	gofmt -w $$(git ls-files '*.go')

## bench: load-test scimd with scimbench (see docs/performance.md)
bench: build
	./scripts/bench.sh

clean:
	rm -rf bin scimd.db scimd.db-wal scimd.db-shm
