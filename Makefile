# Umeme's front door: `make help` lists the targets.

SQLC      := go tool -modfile=tools/go.mod sqlc
GO_TEST   ?= go test
TEST_ARGS ?=

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-10s %s\n", $$1, $$2}'

.PHONY: run
run: ## Bring up the whole world (regtest Lightning, M-Pesa and SMS simulators, the server, a web phone); prints the URL to open
	go build -o .cache/bin/world ./cmd/world && .cache/bin/world

.PHONY: serve
serve: ## Start the server alone on the embedded SQLite default (data/umeme.db), migrated, in development mode
	APP_ENV=development go run ./cmd/server serve

.PHONY: test
test: regtest-bin ## Run every test (engines from TEST_MYSQL_URL / TEST_POSTGRES_URL)
	$(GO_TEST) -count=1 $(TEST_ARGS) ./...

.PHONY: regtest
regtest: regtest-bin ## Start a local regtest network (btcd, our lnd, a world lnd) until Ctrl-C
	go run ./cmd/regtest

.PHONY: regtest-bin
regtest-bin: ## Build the pinned lnd and btcd the Lightning tests run (once; a few minutes)
	scripts/regtest/build.sh

.PHONY: galera
galera: ## Start a 3-node MariaDB Galera cluster on loopback (ports 3311-3313, data in .cache/galera); prints its URLs
	scripts/galera/cluster.sh start .cache/galera

.PHONY: galera-stop
galera-stop: ## Stop the Galera cluster of make galera, one node at a time
	scripts/galera/cluster.sh stop .cache/galera

.PHONY: generate
generate: ## Regenerate gen/ from sql/ with the pinned sqlc
	$(SQLC) generate

.PHONY: verify
verify: ## Fail on stale gen/, diverging query names, untidy modules, large files, vet or gofmt findings
	$(SQLC) diff
	scripts/check-query-names.sh
	scripts/check-tree.sh
	go vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/'))" || { gofmt -l $$(git ls-files '*.go' | grep -v '^gen/'); echo 'gofmt: files above need formatting'; exit 1; }

# The servers the benchmarks use, unless the environment names others.
BENCH_ENV := TEST_MYSQL_URL=$${TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306/} \
	TEST_POSTGRES_URL=$${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}

.PHONY: bench
bench: ## Benchmark transfers (vs TPC-B baselines, free and with a fee), hot accounts, the USSD endpoint, M-Pesa callbacks, the SMS sender and the server's memory on every engine
	scripts/bench/install-tools.sh
	$(BENCH_ENV) go run ./cmd/bench transfers -rounds 3
	$(BENCH_ENV) go run ./cmd/bench hot
	$(BENCH_ENV) go run ./cmd/bench ussd
	$(BENCH_ENV) go run ./cmd/bench mpesa
	$(BENCH_ENV) go run ./cmd/bench sms
	$(BENCH_ENV) go run ./cmd/bench footprint

.PHONY: bench-hop
bench-hop: ## Time and allocations of one USSD hop of each kind (real handler, SQLite, production PIN cost)
	go test -run '^$$' -bench USSDHop -benchmem ./internal/httpapi

FUZZTIME ?= 2m

.PHONY: fuzz
fuzz: ## Fuzz the USSD handler for FUZZTIME (the seed corpus runs in make test)
	go test -run '^$$' -fuzz FuzzUSSD -fuzztime $(FUZZTIME) ./internal/httpapi

.PHONY: attack-cut
attack-cut: ## Load test of attack 27: under load, PostgreSQL transfers cut at their deadline; every error must match what the ledger holds
	@pids=""; for i in 1 2 3; do sh -c 'while :; do :; done' & pids="$$pids $$!"; done; \
	PGS_N=40 PGS_LEFT_MS=450 PGS_SPIN=4 PGS_AFTER_RETURN=0 PGS_ROUNDS=5 $(BENCH_ENV) $(GO_TEST) -tags attackcut -count=1 -v \
		-run TestAttackPGSConcurrentCut ./internal/store/pgstore/; rc=$$?; kill $$pids; exit $$rc

.PHONY: soak
soak: regtest-bin ## Run the long forms of the fault, scale-out and growth suites (the growth seed: 10 M transactions over 1 M users on each engine, hours)
	SOAK=1 $(GO_TEST) -count=1 -timeout 60m -run 'Crash|Instances' -v ./internal/fleet/
	RESTART_OUTAGES=5 RESTART_DOWN=15 RESTART_SESSIONS=16 $(GO_TEST) -count=1 -timeout 60m -run 'TestDatabaseRestart$$' -v ./internal/app/
	$(BENCH_ENV) go run ./cmd/bench growth -engines postgres,mysql,sqlite -users 1000000 -txns 10000000

.PHONY: build
build: ## Build the server binary into bin/server (static, pure Go: CGO_ENABLED=0)
	CGO_ENABLED=0 go build -o bin/server ./cmd/server
