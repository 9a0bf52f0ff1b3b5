# logmetrics: every target installs what it needs (Go modules and InfluxDB
# 1.8.10 come from the Go module proxy), so a fresh clone needs only Go;
# test also needs apt, for VictoriaMetrics (or VICTORIA=/path/to/it).

GO        ?= go
BIN       := $(CURDIR)/bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# Reproducible: no paths (-trimpath), no build ID, version and commit from git.
LDFLAGS   := -s -w -buildid= -X main.version=$(VERSION) -X main.commit=$(COMMIT)
INFLUXDB  := github.com/influxdata/influxdb/cmd
INFLUX_V  := v1.8.10

# install: where `make install` puts things (DESTDIR for packaging).
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
STATEDIR   ?= /var/lib/logmetrics
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
DOCDIR     ?= $(PREFIX)/share/doc/logmetrics
CONFIG     ?= $(SYSCONFDIR)/logmetrics/rules.hcl

.PHONY: all build install test soak demo influxd victoria-metrics bench fuzz lint clean

all: build

## build: the static logmetrics binary in bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/logmetrics ./cmd/logmetrics

## install: the static binary, the example rules and a systemd service (unit, sysusers.d and
## tmpfiles.d entries) under DESTDIR/PREFIX. The rules file itself (CONFIG) is left alone:
## copy the example there and edit it. Then: systemd-sysusers; systemd-tmpfiles --create;
## systemctl daemon-reload; systemctl enable --now logmetrics
SUBST := sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@CONFIG@|$(CONFIG)|g' -e 's|@STATEDIR@|$(STATEDIR)|g'
install: build
	@for d in "$(BINDIR)" "$(SYSCONFDIR)" "$(STATEDIR)" "$(UNITDIR)" "$(DESTDIR)"; do \
	  case "$$d" in *[[:space:]]*) echo "make install: '$$d' holds white space, which the unit's paths cannot take" >&2; exit 2;; esac; \
	done
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
	  $(DESTDIR)$(DOCDIR) $(DESTDIR)$(dir $(CONFIG))
	install -m 0755 $(BIN)/logmetrics $(DESTDIR)$(BINDIR)/logmetrics
	$(SUBST) deploy/logmetrics.service.in > $(DESTDIR)$(UNITDIR)/logmetrics.service
	$(SUBST) deploy/logmetrics.sysusers > $(DESTDIR)$(SYSUSERSDIR)/logmetrics.conf
	$(SUBST) deploy/logmetrics.tmpfiles > $(DESTDIR)$(TMPFILESDIR)/logmetrics.conf
	chmod 0644 $(DESTDIR)$(UNITDIR)/logmetrics.service $(DESTDIR)$(SYSUSERSDIR)/logmetrics.conf \
	  $(DESTDIR)$(TMPFILESDIR)/logmetrics.conf
	install -m 0644 rules.hcl.example README.md $(DESTDIR)$(DOCDIR)/
	install -m 0644 rules.hcl.example $(DESTDIR)$(dir $(CONFIG))rules.hcl.example

## influxd: InfluxDB OSS 1.8.10 (server and CLI) in bin/, built once
influxd: $(BIN)/influxd $(BIN)/influx
$(BIN)/influxd:
	GOBIN=$(BIN) $(GO) install -ldflags "-X main.version=$(INFLUX_V:v%=%)" $(INFLUXDB)/influxd@$(INFLUX_V)
$(BIN)/influx:
	GOBIN=$(BIN) $(GO) install -ldflags "-X main.version=$(INFLUX_V:v%=%)" $(INFLUXDB)/influx@$(INFLUX_V)

## victoria-metrics: VictoriaMetrics single node from Debian's package victoria-metrics
## (bookworm: 1.79.5) unpacked into bin/, without installing it or starting its service; needs
## apt (as root only when the package lists are missing). Elsewhere: make VICTORIA=/path/to/it test.
## A bin/victoria-metrics that does not run (empty, cut short, a dangling link) is fetched again.
VICTORIA ?= $(BIN)/victoria-metrics
APT_GET  ?= apt-get
# Whether a file is VictoriaMetrics: Debian's build prints an empty -version,
# and an empty file runs as an empty shell script, so ask for its flags.
is_victoria = "$(1)" -help 2>&1 | grep -q -- -storageDataPath
victoria-metrics:
	@if ! $(call is_victoria,$(VICTORIA)); then \
	  if [ "$(VICTORIA)" != "$(BIN)/victoria-metrics" ]; then echo "make: VICTORIA=$(VICTORIA) is not victoria-metrics" >&2; exit 2; fi; \
	  rm -f "$(VICTORIA)" && $(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST)) "$(BIN)/victoria-metrics"; \
	fi
# The new binary is checked and renamed into place from a temporary file of
# its own in bin/, so that two makes at once never write or run each
# other's file.
$(BIN)/victoria-metrics:
	@mkdir -p $(BIN)
	@tmp=$$(mktemp -d) && new=$$(mktemp "$@.XXXXXX") && trap 'rm -rf "$$tmp" "$$new"' EXIT && cd "$$tmp" && \
	{ $(APT_GET) -qq download victoria-metrics 2>/dev/null || \
	  { echo "apt-get update (no package list offers victoria-metrics)"; $(APT_GET) -qq update && $(APT_GET) -qq download victoria-metrics; }; } && \
	dpkg-deb --fsys-tarfile victoria-metrics_*.deb | tar -xO ./usr/bin/victoria-metrics > "$$new" && \
	chmod 0755 "$$new" && $(call is_victoria,$$new) && mv "$$new" $@ && \
	echo "victoria-metrics $$(dpkg-deb -f victoria-metrics_*.deb Version) in $@"

## test: vet and every test, the integration tests against a real InfluxDB and VictoriaMetrics included;
## then, without -race (which changes allocation counts, so it skips there), the allocation test of rewrites
test: influxd victoria-metrics
	$(GO) vet ./...
	LOGMETRICS_INFLUXD=$(BIN)/influxd LOGMETRICS_VICTORIA=$(VICTORIA) $(GO) test -race -count=1 ./...
	$(GO) test -count=1 -run '^TestRewriteNoMatchNoAlloc$$' ./extract

## soak: the end-to-end proofs of make test, run longer (LOGMETRICS_SOAK=1): 20 rotations
## of 3,000 lines per scheme, a 60 s InfluxDB outage, fault rounds with 20 s stalls
soak: influxd
	LOGMETRICS_SOAK=1 LOGMETRICS_INFLUXD=$(BIN)/influxd $(GO) test -race -count=1 -timeout 60m -v \
	  -run '^(TestRotation|TestOutage|TestFaults|TestCrashRestartExact)' ./cmd/logmetrics

## demo: start a local InfluxDB, ship testdata/logs with rules.hcl.example, show the series
demo: build influxd
	./scripts/demo.sh

## fuzz: run each fuzz target for FUZZTIME (the seeds also run in make test)
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

## bench: the benchmark suite (internal/benchsuite/cmd/benchsuite): corpora cached in .bench/, the Go
## benchmarks into .bench/bench.txt (compare runs with benchstat), whole-process timings of test,
## backfill (also pinned to one core), run into InfluxDB (1 and 4 busy files, 100 idle files, a steady
## 5,000 lines/s) and the floors (regexp, fastjson, go-logfmt); writes BENCHMARKS.md.
## Quick check: BENCH_FLAGS='-n 20000 -rounds 2 -idle 10s -steady 10s -o /tmp/BENCHMARKS.md'
BENCH_FLAGS ?=
bench: influxd
	$(GO) run ./internal/benchsuite/cmd/benchsuite -influxd $(BIN)/influxd $(BENCH_FLAGS)

## lint: formatting and vet
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

clean:
	rm -rf $(BIN) bench.txt .bench
