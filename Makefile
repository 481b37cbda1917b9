# Belladonna — build, test, demo, install, bench.
#
#   make            build the release binaries: bdctl and the dynamically
#                   linked bdexec (target/release/), and the static bdexec
#                   (target/<host triple>/release/bdexec)
#   make deps       install the Debian packages the build, tests, demo and
#                   bench need (as root; otherwise prints the command)
#   make test       deps, then every test (unit + integration, as root)
#   make test-recording-large  1 GiB of output through the pty while
#                   recording (about a minute; not in `make test`)
#   make test-ansible  Ansible's become through bdexec (ansible-core from
#                   PyPI into a venv; SKIPPED when PyPI is unreachable)
#   make test-tpm   the TPM-backed KEK (feature belladonna_tpm_real) against
#                   swtpm; installs its own Debian packages (not in `make test`)
#   make demo       deps, build, then a live demo in a private namespace
#   make install    install (PREFIX, DESTDIR aware; file caps, no setuid)
#   make bench      bdexec vs sudo vs doas vs the floor, per-call wall time and RSS
#   make hot-order  packaging/bdexec.order: the static bdexec's functions
#                   in the order a call runs them, for the linker (root,
#                   bpftrace; scripts/hot-order.sh)
#   make fuzz / fuzz-smoke   the cargo-fuzz targets, long / 10 s each
#   make load       closed-loop load at 1x/2x the cores vs sudo/doas (docs/slo.md)
#   make load-ab    this checkout's bdexec vs AB_BASE's under that load
#   make lint       cargo fmt --check + clippy -D warnings
#   make gates      the CI gates: fmt, clippy (all features), doc, deny,
#                   audit, vet, SBOM, workflows, policy (scripts/gates.sh)
#   make deb / rpm  packages into target/debian/, target/generate-rpm/
#   make release    target/release-artifacts/: packages, man pages, SBOM,
#                   SHA256SUMS, signatures, provenance (scripts/attest.sh)
#   make verify-release   check every artifact, signature and the provenance
#   make test-packages    install the packages into throwaway roots and test
#                   them (scripts/test-packages.sh; root; not in `make test`)
#   make test-release     sign with a test key, flip bytes, verify must fail
#
# Nothing here changes the host's /etc, /var/log or /run except
# `make install` (and `make deps`, which installs Debian packages).

SHELL      := /bin/bash
CARGO      ?= cargo
PREFIX     ?= /usr
DESTDIR    ?=
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
# bdexec is two programs from one source: the static bdexec in $(BINDIR),
# the common call, and its dynamically linked twin bdexec-pam, which the
# static one execs when a call needs PAM or an NSS source beyond `files`
# (PAM modules cannot be loaded into a static program). The static bdexec
# looks for its twin at <its own directory>/../libexec/belladonna/
# bdexec-pam, so LIBEXECDIR follows BINDIR (PREFIX=/usr:
# /usr/libexec/belladonna); set BINDIR, never LIBEXECDIR. /proc/self/exe
# has its symlinks resolved: BINDIR must name the real directory (on a
# merged-/usr system /usr/bin, not /bin).
LIBEXECDIR := $(patsubst %/,%,$(dir $(patsubst %/,%,$(BINDIR))))/libexec/belladonna
MANDIR     ?= $(PREFIX)/share/man
# The configuration, log and state paths are compile-time constants
# (src/base/paths.rs); DESTDIR only relocates them for packaging.
CONFDIR    := /etc/belladonna
LOGDIR     := /var/log/belladonna
LIBDIR     := /var/lib/belladonna
SETCAP     ?= setcap
# Set NO_SETCAP=1 when packaging without privileges: the package's
# postinst must then run: setcap $(BDEXEC_CAPS) on $(BINDIR)/bdexec and on
# $(LIBEXECDIR)/bdexec-pam (the twin refuses to run without them too).
NO_SETCAP  ?=
# bdexec's file capabilities, permitted only: the id switch (setuid,
# setgid), bounding-set and securebits control for capability grants
# (setpcap), and each capability a rule may grant with `caps = [...]`
# (here net_bind_service; add more to grant more: `bdctl doctor` lists
# rules whose grants the installed binary lacks).
BDEXEC_CAPS ?= cap_setuid,cap_setgid,cap_setpcap,cap_net_bind_service=p
TEST_THREADS ?= 2

# The two bdexec builds. The static one: musl linked in (static-pie),
# built for an explicit --target so RUSTFLAGS stays off build scripts and
# its artifacts land apart from the ordinary build's. The twin: the
# ordinary `cargo build --release` output (glibc, dynamic), installed as
# bdexec-pam.
HOST          := $(shell rustc -vV 2>/dev/null | sed -n 's/^host: //p')
# The static bdexec's C library is musl (docs/decisions.md section 20):
# glibc's static start-up (CPU feature and cache probes, tunables, IRELATIVE
# relocations) cost about 0.3 ms a call on the AMD guest, more than all of
# bdexec's own work above the floor's (docs/performance.md, session 20).
# `make STATIC_TARGET=$(HOST)` builds it on glibc as before.
STATIC_TARGET ?= $(subst -gnu,-musl,$(HOST))
# getrandom(2) through the C library's getrandom(): the getrandom crate's
# default looks the function up with dlsym, which a static program
# cannot, and falls back to a cached /dev/urandom descriptor that
# bdexec's own fd hygiene (monitor mode) closes.
# Packed relative relocations (RELR) where the static C library can
# apply them (musl 1.2.4 and later, as the Rust toolchain ships; glibc
# 2.36, Debian 12): 100 KB of RELA entries become about 1 KB, which the
# start-up reads on every call (docs/performance.md).
GLIBC_MINOR := $(shell getconf GNU_LIBC_VERSION 2>/dev/null | sed -n 's/^glibc 2\.\([0-9]*\).*/\1/p')
ifeq ($(STATIC_TARGET),$(HOST))
STATIC_RELR := $(shell [ "$(GLIBC_MINOR)" -ge 36 ] 2>/dev/null && echo "-C link-arg=-Wl,-z,pack-relative-relocs")
STATIC_LLD :=
else
STATIC_RELR := -C link-arg=-Wl,-z,pack-relative-relocs
# The toolchain's own lld (the host target links with it already; musl
# targets link through cc and GNU ld, which lacks --symbol-ordering-file).
STATIC_LLD := -C link-arg=-B$(shell rustc --print sysroot 2>/dev/null)/lib/rustlib/$(HOST)/bin/gcc-ld -C link-arg=-fuse-ld=lld
endif
STATIC_RUSTFLAGS := -C target-feature=+crt-static --cfg getrandom_backend="linux_getrandom" $(STATIC_RELR) $(STATIC_LLD)
# The functions a plain call runs first in the release build's code
# (packaging/bdexec.order, written by `make hot-order`): the call's
# functions share 9 of the kernel's 64 KB fault-around windows instead
# of 36 (docs/performance.md "Code in call order"). A name the build
# lacks is skipped by the linker; `scripts/hot-order.sh check` says how
# many match.
HOT_ORDER_ARGS := -C link-arg=-Wl,--symbol-ordering-file=$(CURDIR)/packaging/bdexec.order -C link-arg=-Wl,--no-warn-symbol-ordering
STATIC_ORDER := $(if $(wildcard packaging/bdexec.order),$(HOT_ORDER_ARGS))
# No CPU probe at the first hash (Cargo.toml, feature blake3-baseline).
STATIC_FEATURES := blake3-baseline
STATIC_BDEXEC := target/$(STATIC_TARGET)/release/bdexec
TWIN_BIN      := target/release/bdexec

# Debian packages: build (build-essential, pkg-config; cc drives the
# links; the static bdexec's musl libc.a comes with the Rust target, `make
# static-target`; libc6-dev's libc.a is the one it links with
# STATIC_TARGET=HOST),
# tests (libseccomp2 and linux-libc-dev: the two independent syscall tables
# tests/syscall_table.rs checks ours against, nothing links them;
# libcap2-bin: setcap/getcap; strace; util-linux: unshare, setpriv,
# prlimit), man pages (mandoc), bench (sudo, opendoas; musl-tools: the
# floor built on musl too); PAM (libpam0g:
# loaded at run time with dlopen, so no -dev package; libpam-modules:
# pam_unix for the tests' service; openssl: `openssl passwd -6` for the
# test user's password hash); systemd: systemd-journald and journalctl for
# tests/journald.rs and `bdctl audit cross-check`.
DEB_PACKAGES := build-essential musl-tools pkg-config libseccomp2 linux-libc-dev libcap2-bin strace util-linux mandoc sudo opendoas libpam0g libpam-modules libpam-runtime openssl systemd

# Only for `make test-tpm` (the belladonna_tpm_real feature: tss-esapi links
# libtss2-esys; the tests start swtpm on loopback).
TPM_DEB_PACKAGES := libtss2-dev swtpm swtpm-tools pkg-config

# Real multi-call programs and their aliases for tests/multicall.rs and the
# never-widen check of tests/sudoers_import.rs: vim (rview/view/vim through
# the alternatives symlinks), bzip2 (bzcat/bunzip2 hard links), busybox;
# asciinema reads the session recordings of tests/recording.rs.
DEB_PACKAGES += vim bzip2 busybox asciinema
# tests/audit_faults_dev.rs: mkfs.ext4 and xfs_io (the ext4 shutdown ioctl).
DEB_PACKAGES += e2fsprogs xfsprogs

# Only for `make test-ansible` (tests/ansible.rs): python3-venv, for the
# virtual environment the test installs ansible-core into from PyPI.
ANSIBLE_DEB_PACKAGES := python3 python3-venv

# Only for `make test-observability` (tests/observability.rs): promtool, a
# real Prometheus and node_exporter on loopback, curl for the quickstart.
OBS_DEB_PACKAGES := prometheus prometheus-node-exporter curl

.PHONY: all build static-target static-path deps test test-static test-journald test-faults test-recording-large test-tpm test-observability test-ansible demo install uninstall bench bench-ab profile hot-order lint clean check-root kernel-matrix \
	completions dist deb rpm packages gates gate-tools release verify-release test-packages test-release

all: build

build: static-target
	@[ -n "$(HOST)" ] || { echo "build: 'rustc -vV' names no host triple" >&2; exit 1; }
	$(CARGO) build --release
	@# The link reads packaging/bdexec.order, which cargo does not track:
	@# a changed order rebuilds this crate for the static target (only).
	@if [ -n "$(STATIC_ORDER)" ] && ! cmp -s packaging/bdexec.order $(STATIC_BDEXEC).order; then \
	  $(CARGO) clean --release --target $(STATIC_TARGET) -p belladonna; fi
	RUSTFLAGS='$(STATIC_RUSTFLAGS) $(STATIC_ORDER)' $(CARGO) build --release --target $(STATIC_TARGET) --features $(STATIC_FEATURES) --bin bdexec
	@if [ -n "$(STATIC_ORDER)" ]; then cp packaging/bdexec.order $(STATIC_BDEXEC).order; fi
	@# A static bdexec has no program interpreter (PT_INTERP).
	@if readelf -lW $(STATIC_BDEXEC) | grep -q INTERP; then \
	  echo "build: $(STATIC_BDEXEC) is dynamically linked (expected static-pie)" >&2; exit 1; fi
	@# It starts (its own relocations applied by the static C library).
	@$(STATIC_BDEXEC) --version >/dev/null || { echo "build: $(STATIC_BDEXEC) does not start" >&2; exit 1; }

# Where the static bdexec is built (scripts/bench.sh, demo.sh, hot-order.sh,
# bench-ab.sh ask here).
static-path:
	@echo $(STATIC_BDEXEC)

# The static bdexec's target (its standard library, with musl's C
# library and start files): from rustup, once.
static-target:
	@[ "$(STATIC_TARGET)" = "$(HOST)" ] || rustup target list --installed 2>/dev/null | grep -qx '$(STATIC_TARGET)' || \
	  rustup target add $(STATIC_TARGET) || { \
	  echo "build: could not add the Rust target $(STATIC_TARGET) (rustup target add $(STATIC_TARGET));" \
	       "'make STATIC_TARGET=$(HOST)' builds the static bdexec on glibc instead" >&2; exit 1; }

deps: static-target
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "deps: missing Debian packages:$$missing" >&2; \
	  echo "deps: run as root:  apt-get update && apt-get install -y$$missing" >&2; \
	  exit 1; \
	fi; \
	echo "deps: installing:$$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -q && apt-get install -y -q --no-install-recommends $$missing

# Integration tests need root (namespaces, mounts, setcap): as non-root
# they print "SKIPPED (needs root): <test>" and pass trivially.
test: deps
	@if [ "$$(id -u)" != 0 ]; then echo "test: WARNING: not root: the integration tests will be SKIPPED (see the SKIPPED lines)" >&2; fi
	$(CARGO) test --features test-hooks --no-fail-fast -- --test-threads=$(TEST_THREADS)

# The statically linked bdexec (what the packages install) through the
# integration tests that exercise its differences from the dynamic test
# build: PAM and NSS handed to the twin, monitor mode's fork and fd
# hygiene, random numbers, the daily flags, the policy cache (whose key
# holds the twin pair). A static build with test
# hooks (target/STATIC_TARGET/debug/bdexec) is bin/bdexec; its twin is the
# ordinary test build. Root. Run by .ci/run.
STATIC_TESTS ?= twin exec_basic monitor pam daily_flags drop_in_flags daily_edit strict_cli hostile_input hostile_caller sandbox noexec env_sanitize auth_basic approval multicall policy_cache
test-static: deps
	RUSTFLAGS='$(STATIC_RUSTFLAGS)' $(CARGO) build --target $(STATIC_TARGET) --features test-hooks,$(STATIC_FEATURES) --bin bdexec
	BELLADONNA_TEST_BDEXEC=$(CURDIR)/target/$(STATIC_TARGET)/debug/bdexec $(CARGO) test --features test-hooks --no-fail-fast \
	  $(foreach t,$(STATIC_TESTS),--test $(t)) -- --test-threads=$(TEST_THREADS)

# The journald copy of every audit record and `bdctl audit cross-check`
# (tests/journald.rs): each test starts its own systemd-journald in a
# private mount namespace with the test's /run. Root. Also part of `test`.
test-journald: deps
	$(CARGO) test --features test-hooks --test journald -- --test-threads=$(TEST_THREADS)

# The audit log under device faults (tests/audit_faults.rs,
# tests/audit_faults_dev.rs, docs/durability.md): tiny tmpfs, loop-mounted
# ext4 (losetup, mkfs.ext4), EIO and power cuts by the ext4 shutdown ioctl
# (xfs_io), stopped lock holders, kill -9 at each step. Root. Also part of
# `test`.
test-faults: deps
	$(CARGO) test --features test-hooks --test audit_faults --test audit_faults_dev -- --test-threads=$(TEST_THREADS)

# The TPM-backed KEK (src/auth/tpm.rs): each test starts its own swtpm on
# 127.0.0.1 (free ports, state in a temporary directory). Needs no root.
test-tpm: deps
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(TPM_DEB_PACKAGES)"
	$(CARGO) test --features belladonna_tpm_real,test-hooks --lib -- auth::tpm auth::kek

# Metrics, OTLP export and docs/quickstart.md against a real node_exporter
# and Prometheus (started by the tests on free loopback ports). Without
# the packages, `make test` reports those tests SKIPPED; here their
# absence is a failure.
test-observability: deps
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(OBS_DEB_PACKAGES)"
	BELLADONNA_REQUIRE_OBSERVABILITY=1 $(CARGO) test --features test-hooks --test observability -- --test-threads=$(TEST_THREADS)
	BELLADONNA_REQUIRE_OBSERVABILITY=1 $(CARGO) test --features test-hooks --test prometheus_rules

# 1 GiB of command output through the pty with `record = true`
# (tests/recording.rs): the monitor's peak memory, the whole recording
# and its hash; about a minute in a debug build and 1.1 GB of disk for
# the moment (deleted after). Outside this target the test reports
# SKIPPED.
test-recording-large: deps
	BELLADONNA_TEST_RECORDING_LARGE=1 $(CARGO) test --features test-hooks --test recording a_gib_of_output -- --test-threads=$(TEST_THREADS)

# Ansible's become through the real bdexec (tests/ansible.rs): ansible-core
# from PyPI into a virtual environment under target/tmp (made once, then
# reused), playbooks as unprivileged test users. SKIPPED loudly when PyPI
# cannot be reached; outside this target the tests report SKIPPED.
test-ansible: deps
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(ANSIBLE_DEB_PACKAGES)"
	BELLADONNA_TEST_ANSIBLE=1 $(CARGO) test --features test-hooks --test ansible -- --test-threads=$(TEST_THREADS)

demo: deps build
	@bash scripts/demo.sh

install: build
	install -d -m 0755 $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR)
	install -m 0755 $(STATIC_BDEXEC) $(DESTDIR)$(BINDIR)/bdexec
	install -m 0755 $(TWIN_BIN) $(DESTDIR)$(LIBEXECDIR)/bdexec-pam
	install -m 0755 target/release/bdctl $(DESTDIR)$(SBINDIR)/bdctl
	@if [ -n "$(NO_SETCAP)" ]; then \
	  echo "install: NO_SETCAP set: on the target system run 'setcap $(BDEXEC_CAPS) $(BINDIR)/bdexec' and 'setcap $(BDEXEC_CAPS) $(LIBEXECDIR)/bdexec-pam'"; \
	else \
	  for f in $(DESTDIR)$(BINDIR)/bdexec $(DESTDIR)$(LIBEXECDIR)/bdexec-pam; do \
	    $(SETCAP) $(BDEXEC_CAPS) "$$f" || { \
	      echo "install: setcap on $$f failed (needs root and libcap2-bin; or NO_SETCAP=1 for packaging)" >&2; exit 1; }; \
	    getcap "$$f"; \
	  done; \
	fi
	@for f in man/*.[1-8]; do \
	  [ -e "$$f" ] || continue; \
	  s="$${f##*.}"; \
	  install -d -m 0755 $(DESTDIR)$(MANDIR)/man$$s; \
	  install -m 0644 "$$f" $(DESTDIR)$(MANDIR)/man$$s/; \
	  echo "install: $$f -> $(MANDIR)/man$$s/"; \
	done
	install -d -m 0755 $(DESTDIR)$(CONFDIR) $(DESTDIR)$(CONFDIR)/policy.d
	@if [ -e $(DESTDIR)$(CONFDIR)/policy.toml ]; then \
	  echo "install: keeping the existing $(CONFDIR)/policy.toml"; \
	else \
	  install -m 0600 policies/default.toml $(DESTDIR)$(CONFDIR)/policy.toml; \
	  echo "install: $(CONFDIR)/policy.toml (deny-all default)"; \
	fi
	install -d -m 0700 $(DESTDIR)$(LOGDIR) $(DESTDIR)$(LIBDIR)
	install -d -m 0755 $(DESTDIR)/etc/pam.d
	@if [ -e $(DESTDIR)/etc/pam.d/belladonna ]; then \
	  echo "install: keeping the existing /etc/pam.d/belladonna"; \
	else \
	  install -m 0644 packaging/pam.d/belladonna $(DESTDIR)/etc/pam.d/belladonna; \
	  echo "install: /etc/pam.d/belladonna (PAM service for auth = \"password\")"; \
	fi
	@if [ "$$(id -u)" = 0 ]; then \
	  chown root:root $(DESTDIR)$(CONFDIR) $(DESTDIR)$(CONFDIR)/policy.d $(DESTDIR)$(CONFDIR)/policy.toml \
	    $(DESTDIR)$(LOGDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(BINDIR)/bdexec $(DESTDIR)$(SBINDIR)/bdctl \
	    $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(LIBEXECDIR)/bdexec-pam; \
	fi
	@# Never a setuid bit: bdexec and its twin work with file capabilities only.
	@chmod u-s,g-s $(DESTDIR)$(BINDIR)/bdexec $(DESTDIR)$(LIBEXECDIR)/bdexec-pam

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/bdexec $(DESTDIR)$(LIBEXECDIR)/bdexec-pam $(DESTDIR)$(SBINDIR)/bdctl
	@rmdir $(DESTDIR)$(LIBEXECDIR) 2>/dev/null || true
	@for f in man/*.[1-8]; do [ -e "$$f" ] || continue; s="$${f##*.}"; rm -f $(DESTDIR)$(MANDIR)/man$$s/$${f##*/}; done
	@echo "uninstall: kept $(CONFDIR), $(LOGDIR) and $(LIBDIR) (policy and audit trail)"

bench: deps build
	@bash scripts/bench.sh

# This checkout's bdexec against another commit's (AB_BASE, default
# HEAD~1), call by call in bench's namespace, each with its own /run:
# for changes smaller than two `make bench` runs differ by. AB_ARGS=sandboxed
# (or monitored) times that rule of the bench policy instead.
bench-ab: deps build
	@bash scripts/bench-ab.sh

# --- Fuzzing, load, SLO (issue 16 items 4, 6; docs/slo.md, fuzz/README.md) ---
# fuzz: every cargo-fuzz target FUZZ_SECONDS (300) each, one shared build;
# fuzz-smoke: each FUZZ_SMOKE_SECONDS (10), what CI runs. Seeds in
# fuzz/corpus/; a crash fails the run (scripts/fuzz.sh).
.PHONY: fuzz fuzz-smoke load load-ab
# load: closed-loop callers at 1x and 2x the cores, bdexec vs sudo vs doas,
# P50/P95/P99, tail amplification, audit records/s (LOAD_SECONDS=5 each).
load: deps build
	@bash scripts/load.sh
# load-ab: this checkout's bdexec vs AB_BASE's (HEAD~1) under load, round
# by round at 2x the cores, with the floor (scripts/load-ab.sh).
load-ab: deps build
	@bash scripts/load-ab.sh
# Where one call's time goes (docs/performance.md): CPU, faults, RSS per
# call beside doas, sudo and the floor; with perf (linux-perf, not in
# DEB_PACKAGES: a measurement, not a test) bdexec's syscalls, faults by
# mapping and CPU samples.
profile: deps build
	@bash scripts/profile.sh

# packaging/bdexec.order from one real call under bpftrace (root;
# scripts/hot-order.sh; 10-20 min). Commit the file it writes.
hot-order: deps build
	@bash scripts/hot-order.sh
fuzz:
	@bash scripts/fuzz.sh run
fuzz-smoke:
	@bash scripts/fuzz.sh smoke

# Boots Debian's 6.1, 6.12 and newest kernels under qemu (TCG) with a static
# probe as /init and reports what Landlock/seccomp enforce on each
# (docs/kernel-matrix.md). Downloads kernel packages: not part of `make test`.
# Settings are KM_* variables (scripts/kernel-matrix.sh --help).
kernel-matrix:
	@bash scripts/kernel-matrix.sh

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets --features test-hooks -- -D warnings
	mandoc -Tlint -W warning man/*

# --- Packages, gates, release (docs/install.md, docs/supply-chain.md) ---

# Only for the packages, their tests and the gates: rpm (rpm --root,
# rpm -qp), libcap2-bin (getcap), git (the advisory-db bundle), pip (the
# schema checkers), libtss2-dev (clippy/doc with all features).
PKG_DEB_PACKAGES := rpm libcap2-bin git python3-pip libtss2-dev

# Shell completions from the clap definitions (src/bin/belladonna-gen.rs,
# a build tool: a debug build is enough and keeps clap_complete out of
# the installed binaries).
completions:
	$(CARGO) build --features gen-tools --bin belladonna-gen
	target/debug/belladonna-gen completions target/completions

# Both packages take bdexec and its twin from target/dist/: cargo-deb
# treats every target/release/ asset path as its own (rewritten to
# target/<triple>/release/ under --target) and refuses a literal
# target/<triple>/release/ path, so the static bdexec and the twin, both
# named bdexec by cargo, are copied here under their installed names.
dist: build
	install -d -m 0755 target/dist
	install -m 0755 $(STATIC_BDEXEC) target/dist/bdexec
	install -m 0755 $(TWIN_BIN) target/dist/bdexec-pam

deb: build completions dist
	$(CARGO) deb --no-build --no-strip
	@ls -l target/debian/*.deb

rpm: build completions dist
	$(CARGO) generate-rpm
	@ls -l target/generate-rpm/*.rpm

packages: deb rpm

# The cargo tools and Python checkers the gates need (pinned in
# scripts/gates.sh; already-installed ones are skipped).
gate-tools:
	@bash scripts/gates.sh tools

gates:
	@bash scripts/gates.sh all

# RELEASE_KEY=/path/cosign.key (ECDSA P-256 PEM) signs with a real key;
# without it a throwaway key is made under target/ (docs/supply-chain.md).
release: packages
	@bash scripts/gates.sh sbom
	@bash scripts/attest.sh release

verify-release:
	@bash scripts/attest.sh verify

# Signs a release with a key made for the test, then checks that verify
# fails on one flipped byte anywhere (scripts/test-release.sh).
test-release: packages
	@bash scripts/gates.sh sbom
	@bash scripts/test-release.sh

test-packages: packages
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(PKG_DEB_PACKAGES)"
	@bash scripts/test-packages.sh

clean:
	$(CARGO) clean
