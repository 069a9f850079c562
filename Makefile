# Evident: the two commands a newcomer needs are `make demo` and `make test`.
GO      ?= go
BIN     := bin/evident
PKG     := ./cmd/evident

.PHONY: all build demo test vet fmt bench clean assets fuzz differential vulncheck

all: build

# npm pins echarts; the file is embedded into the binary (no CDN at run time).
assets:
	@if [ -f package.json ]; then \
		if ! command -v npm >/dev/null; then \
			if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
				echo "npm is missing: installing Debian's npm to fetch the pinned echarts"; \
				apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; \
			else echo "npm is needed to fetch the pinned echarts: install it (apt-get install -y npm)" >&2; exit 1; fi; \
		fi; \
		if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then npm ci --no-audit --no-fund; fi; \
		if [ -f dashboard/assets/sync.sh ]; then sh dashboard/assets/sync.sh; fi; \
	fi

build: assets
	$(GO) build -o $(BIN) $(PKG)

# Runs Evident on its built-in demo: a private ClickHouse in ./.evident,
# the Jira simulator, a real sync and the dashboard.
demo: build
	./$(BIN) demo

vet:
	$(GO) vet ./...

# The test command of README.md and .ci/run: vet, then every test with the
# race detector, including the ClickHouse and browser integration tests.
test: assets vet vulncheck
	$(GO) test -race -timeout 45m ./...

# govulncheck against the offline copy of the Go vulnerability database
# (VULNDB, default ../shared/vulndb): fails when the code reaches a known
# vulnerability. Without the database it says so and goes on.
VULNDB ?= $(abspath ../shared/vulndb)
vulncheck:
	@if [ -d "$(VULNDB)" ]; then \
		echo "govulncheck with the database in $(VULNDB)"; \
		$(GO) run golang.org/x/vuln/cmd/govulncheck@v1.1.4 -db "file://$(VULNDB)" ./...; \
	else echo "govulncheck SKIPPED: no offline vulnerability database at $(VULNDB) (set VULNDB=/path/to/vulndb)"; fi

# The differential test of the read model at scale: 100,000 random issue
# histories (make test runs 10,000 with a fixed seed), a new seed each run;
# a failure names the seed that replays it.
DIFF_N    ?= 100000
DIFF_SEED ?= $(shell date +%s)
differential: assets
	EVIDENT_DIFFERENTIAL_N=$(DIFF_N) EVIDENT_DIFFERENTIAL_SEED=$(DIFF_SEED) $(GO) test -run '^TestReadModelEqualsGoReplay$$' -count=1 -v -timeout 30m ./collector

fmt:
	gofmt -w $$(git ls-files '*.go')

bench: build
	./$(BIN) bench

clean:
	rm -rf bin

# Runs every fuzz target for FUZZTIME each (the seed corpora also run in `make test`).
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run XXX -fuzz '^FuzzExtract$$' -fuzztime $(FUZZTIME) ./collector
	$(GO) test -run XXX -fuzz '^FuzzParseSprintField$$' -fuzztime $(FUZZTIME) ./collector
	$(GO) test -run XXX -fuzz '^FuzzJiraTime$$' -fuzztime $(FUZZTIME) ./collector
	$(GO) test -run XXX -fuzz '^FuzzSatisfactionFile$$' -fuzztime $(FUZZTIME) ./inputs
	$(GO) test -run XXX -fuzz '^FuzzQueryParameters$$' -fuzztime $(FUZZTIME) ./dashboard
