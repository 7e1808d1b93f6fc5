# goproxy and govrrpd: drop-in replacements for HAProxy and keepalived.
GO      ?= go
PREFIX  ?= /usr/local
DESTDIR ?=
SBINDIR ?= $(PREFIX)/sbin
ETCDIR  ?= $(PREFIX)/etc
MANDIR  ?= $(PREFIX)/share/man
# Where the init scripts and units go, and the paths written into them.
INITDIR    ?= /etc/init.d
SYSTEMDDIR ?= /lib/systemd/system
RUNDIR     ?= /var/run
# A prefix named .../haproxy gets the layout of HAProxy 1.4 source installs
# that the seed (and its check_haproxy.sh) uses: conf/haproxy.cfg, logs/.
ifeq ($(notdir $(PREFIX)),haproxy)
CONFFILE   ?= $(PREFIX)/conf/haproxy.cfg
PIDFILE    ?= $(PREFIX)/logs/haproxy.pid
else
CONFFILE   ?= $(ETCDIR)/haproxy/haproxy.cfg
PIDFILE    ?= $(RUNDIR)/haproxy.pid
endif
DEFAULTSFILE ?= /etc/default/haproxy
KACONFFILE ?= $(ETCDIR)/keepalived/keepalived.conf
KAPIDFILE  ?= $(RUNDIR)/keepalived.pid
KADEFAULTSFILE ?= /etc/default/keepalived
FUZZTIME ?= 20s
GOFLAGS_BUILD ?= -trimpath

BINARIES := bin/goproxy bin/govrrpd bin/demobackend

.PHONY: all build test run bench fuzz install clean lint demo

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

# demo (as root) brings the seed's HA pair up in network namespaces:
# goproxy + govrrpd on both load balancers (LB1=ref or LB2=ref puts HAProxy
# + keepalived on that host), prints the VIP, the curl commands, the stats
# page and the keys that stop and start each daemon, and tears everything
# down on Ctrl-C or q.
demo:
	@$(GO) build -o bin/e2e-demo ./internal/e2e/demo
	@exec ./bin/e2e-demo -repo $(CURDIR) -lb1 $(or $(LB1),ours) -lb2 $(or $(LB2),ours)

bench: build
	../shared/bench/proxybench --candidate '$(CURDIR)/bin/goproxy -db -f {cfg}'

fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

SUBST = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@CONFFILE@|$(CONFFILE)|g' \
	-e 's|@PIDFILE@|$(PIDFILE)|g' -e 's|@DEFAULTSFILE@|$(DEFAULTSFILE)|g' \
	-e 's|@KACONFFILE@|$(KACONFFILE)|g' -e 's|@KAPIDFILE@|$(KAPIDFILE)|g' \
	-e 's|@KADEFAULTSFILE@|$(KADEFAULTSFILE)|g'

# install puts the daemons under $(SBINDIR) with their compatible names
# (haproxy and keepalived are symlinks, so `ps -C haproxy` matches), the init
# scripts and units, and sample configurations where none exist yet: an
# operator's configuration is never overwritten.
install: build
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(INITDIR) $(DESTDIR)$(SYSTEMDDIR)
	install -m 0755 bin/goproxy $(DESTDIR)$(SBINDIR)/goproxy
	install -m 0755 bin/govrrpd $(DESTDIR)$(SBINDIR)/govrrpd
	ln -sfn goproxy $(DESTDIR)$(SBINDIR)/haproxy
	ln -sfn govrrpd $(DESTDIR)$(SBINDIR)/keepalived
	$(SUBST) init/init.d/haproxy > $(DESTDIR)$(INITDIR)/haproxy
	$(SUBST) init/init.d/keepalived > $(DESTDIR)$(INITDIR)/keepalived
	chmod 0755 $(DESTDIR)$(INITDIR)/haproxy $(DESTDIR)$(INITDIR)/keepalived
	$(SUBST) init/systemd/haproxy.service > $(DESTDIR)$(SYSTEMDDIR)/haproxy.service
	$(SUBST) init/systemd/keepalived.service > $(DESTDIR)$(SYSTEMDDIR)/keepalived.service
	install -d $(DESTDIR)$(dir $(CONFFILE)) $(DESTDIR)$(dir $(KACONFFILE)) $(DESTDIR)$(dir $(PIDFILE))
	[ -e $(DESTDIR)$(CONFFILE) ] || install -m 0644 init/haproxy.cfg.sample $(DESTDIR)$(CONFFILE)
	install -d $(DESTDIR)$(MANDIR)/man1
	{ printf '.TH GOPROXY 1\n.SH NAME\ngoproxy, haproxy \\- drop-in replacement for HAProxy\n.SH SYNOPSIS\n.nf\n'; \
	  bin/goproxy --help; printf '.fi\n'; } > $(DESTDIR)$(MANDIR)/man1/goproxy.1
	ln -sfn goproxy.1 $(DESTDIR)$(MANDIR)/man1/haproxy.1
	[ -e $(DESTDIR)$(KACONFFILE) ] || install -m 0644 init/keepalived.conf.sample $(DESTDIR)$(KACONFFILE)

clean:
	rm -rf bin
