# goproxy and govrrpd: drop-in replacements for HAProxy and keepalived.
GO      ?= go
PREFIX  ?= /usr/local
DESTDIR ?=
SBINDIR ?= $(PREFIX)/sbin
ETCDIR  ?= $(PREFIX)/etc
FUZZTIME ?= 20s
GOFLAGS_BUILD ?= -trimpath

BINARIES := bin/goproxy bin/govrrpd bin/demobackend

.PHONY: all build test run bench fuzz install clean lint

all: build

build: $(BINARIES)

bin/%: FORCE
	$(GO) build $(GOFLAGS_BUILD) -o $@ ./cmd/$*

FORCE:

# The whole suite: formatting, vet, unit, fuzz seed corpora, integration and
# differential tests against the real haproxy and keepalived. Root-only tests
# run in network namespaces the tests create themselves.
test: build lint
	$(GO) test -race -count=1 -timeout 50m ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Starts goproxy in the foreground on the shipped default config (loopback
# only), with two demo backends and the stats page.
run: build
	@./testdata/demo/run.sh

bench: build
	../shared/bench/proxybench --candidate '$(CURDIR)/bin/goproxy -db -f {cfg}'

fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

install: build
	install -d $(DESTDIR)$(SBINDIR)
	install -m 0755 bin/goproxy $(DESTDIR)$(SBINDIR)/goproxy
	install -m 0755 bin/govrrpd $(DESTDIR)$(SBINDIR)/govrrpd
	ln -sf goproxy $(DESTDIR)$(SBINDIR)/haproxy
	ln -sf govrrpd $(DESTDIR)$(SBINDIR)/keepalived

clean:
	rm -rf bin
