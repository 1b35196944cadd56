# virtio-grant top-level Makefile.
#
#   make            build libraries, vgrantd, vgrant, vgrant-io into build/
#   make test       unit + loopback tests (no Xen needed), and every fuzz
#                   harness over its seed corpus
#   make fuzz       build the libFuzzer harnesses (tests/fuzz/) and fuzz
#                   each for FUZZ_SECONDS (default 10) seconds
#   make test-san   the same under AddressSanitizer + UBSan (build-san/)
#   make check      install missing build deps, then test, test-san, e2e,
#                   e2e-xl, e2e-san, deb and e2e-deb
#   make e2e-san    make e2e SAN=1 over E2E_SAN_SCENARIOS (smoke basic modes)
#   make e2e        real Xen 4.17 under QEMU (tests/e2e): the scenarios of
#                   E2E_SCENARIOS in one boot, then the fault matrix in a
#                   second, then kernel-net (256 MiB each way) in a third;
#                   E2E_SCENARIOS="a b" on the command line runs
#                   just those, in one boot; SAN=1 (also for e2e-fault,
#                   e2e-kernel): dom0 runs the ASan/UBSan daemon side and a
#                   sanitizer report fails the scenario
#   make e2e-fault  the fault matrix (fault-* scenarios) on real Xen, one boot
#   make demo       the main job: boot Xen under QEMU, run a guest workload
#   make e2e-kernel the guest kernel's own virtio drivers over virtio_grant.ko
#                   on real Xen under QEMU (tests/e2e/scenarios/kernel-*)
#   make e2e-xl     build xl/libxl with xen-patches/, `xl create` a guest
#                   with virtio_grant devices on real Xen under QEMU
#   make bench      every transport mode and Xen's PV block driver on real
#                   Xen under QEMU: bench/results/, docs/benchmarks.md
#   make bench-scale  1, 2, 4, 8 guests with two devices each on one vgrantd
#                   on real Xen under QEMU: bench/results/scale.csv,
#                   docs/benchmarks-scale.md (BENCH_SCALE_GUESTS=1,2 ...)
#   make install    install programs, libvgrant (shared, headers, vgrant.pc)
#                   and man pages under $(PREFIX) (/usr/local)
#   make deb        the Debian packages (dpkg-buildpackage) into build/debs/,
#                   then lintian (docs/install.md)
#   make e2e-deb    after make deb: real Xen under QEMU with the images
#                   built from the packages (build/debs) instead of
#                   build/bin, over E2E_DEB_SCENARIOS (smoke pkg basic
#                   kernel-rng; E2E_SCENARIOS="a b" runs those instead)
#   make clean      remove build/, build-san/ and build-fuzz/
#   make kmod KDIR=/usr/src/linux-headers-<version>
#                   the guest kernel module frontend/linux/virtio_grant.ko
#                   (docs/kernel.md); KDIR defaults to the running kernel's
#   make help       this list
#   V=1             (with any target) print whole commands, not one short
#                   line per step

CC      ?= cc
# Host commands the recipes below call (besides the scripts, which declare
# theirs with need_cmd): tools/deps.list maps each to a Debian package and
# tests/scripts/test_deps_cover.sh checks it does.
NEED_CMDS := cc make ar install rm sed find clang pkg-config dpkg-buildpackage lintian
SAN     ?= 0
FUZZ    ?= 0
FUZZ_CC ?= clang
XINC    :=
ifeq ($(FUZZ),1)
# libFuzzer harnesses (tests/fuzz/): every project library built with
# coverage instrumentation + ASan/UBSan by clang, into build-fuzz/.
BUILD   := build-fuzz
CC      := $(FUZZ_CC)
OPT     := -O1 -fsanitize=fuzzer-no-link,address,undefined \
           -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDSAN   := -fsanitize=fuzzer,address,undefined
# The checkout's path kept out of the binaries, so that a harness built
# from the same sources by the same clang is the same file wherever the
# checkout is: a long fuzz campaign names its binary by sha256 and goes on
# from another clone (tools/fuzz-campaign.sh).
XINC    := -Itests/unit -Itests/fuzz -ffile-prefix-map=$(CURDIR)=.
else ifeq ($(SAN),1)
BUILD   ?= build-san
OPT     := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=undefined
LDSAN   := -fsanitize=address,undefined
else
BUILD   ?= build
OPT     := -O2
LDSAN   :=
endif

# One short line per build step unless V=1.
ifneq ($(V),1)
QUIET_CC = @printf '  CC      %s\n' $@;
QUIET_AR = @printf '  AR      %s\n' $@;
QUIET_LD = @printf '  LD      %s\n' $@;
SUBMAKE  = --no-print-directory
endif

CFLAGS  := -std=gnu11 -g $(OPT) -Wall -Wextra -Werror -Wshadow \
           -Wmissing-prototypes -Wstrict-prototypes -D_GNU_SOURCE \
           -Iinclude -Ifrontend -Ifrontend/io -Ibackend $(XINC) $(EXTRA_CFLAGS)
XENLIBS := -lxengnttab -lxenevtchn -lxenstore -lxenctrl
LDLIBS  := $(XENLIBS) -lpthread
# vgrantd's file transfers (backend/aio_uring.c); only what links the backend
BACKLIBS := -luring
TESTLIBS := -lcmocka

# the in-process fake hypervisor: only in the tests and fuzz harnesses
FAKE_SRCS     := $(wildcard common/hyp_fake*.c)
COMMON_SRCS   := $(filter-out $(FAKE_SRCS),$(wildcard common/*.c))
FRONT_SRCS    := $(wildcard frontend/*.c)
# vgrant-io's verify, bench and check code: not part of libvgrant
IO_CLI        := frontend/io/vgrant-io.c frontend/io/vgrant-io-rng.c
IO_SRCS       := $(filter-out $(IO_CLI),$(wildcard frontend/io/*.c))
BACK_SRCS     := $(filter-out backend/vgrantd.c,$(wildcard backend/*.c))
TEST_SUPPORT  := $(filter-out tests/unit/test_%.c,$(wildcard tests/unit/*.c))
TEST_SRCS     := $(wildcard tests/unit/test_*.c)
SCRIPT_TESTS  := $(wildcard tests/scripts/test_*.sh)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

FUZZ_SUPPORT  := tests/fuzz/fz.c tests/fuzz/fz_backend.c tests/unit/rawfront.c
FUZZ_SRCS     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZERS       := $(patsubst tests/fuzz/%.c,build-fuzz/fuzz/%,$(FUZZ_SRCS))

LIBCOMMON := $(BUILD)/lib/libvgcommon.a
LIBFRONT  := $(BUILD)/lib/libvgrant.a
LIBBACK   := $(BUILD)/lib/libvgbackend.a
LIBIO     := $(BUILD)/lib/libvgio.a
LIBFAKE   := $(BUILD)/lib/libvgfake.a
# The guest library as a shared object for the packages (libvgrant.so.N):
# the frontend and common code built position-independent, only the API of
# libvgrant.h / vgrant_blk.h exported (frontend/libvgrant.map).
VERSION   := 0.1
SOMAJOR   := 0
LIBSO     := $(BUILD)/lib/libvgrant.so.$(SOMAJOR)
PIC_OBJS  := $(patsubst %.c,$(BUILD)/pic/%.o,$(FRONT_SRCS) $(COMMON_SRCS))
BINS      := $(BUILD)/bin/vgrantd $(BUILD)/bin/vgrant $(BUILD)/bin/vgrant-io
# test-only programs the e2e fault scenarios put in the images
# (tests/e2e/hostile/: a hostile frontend, device-mapper without dmsetup)
E2E_BINS  := $(BUILD)/bin/vg-hostile $(BUILD)/bin/vg-dm
TESTS     := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRCS))

.PHONY: all test test-san check deps deb e2e-deb e2e e2e-fault e2e-san demo bench bench-scale install clean \
        e2e-xl help fuzz fuzz-build e2e-kernel kmod kmod-clean
all: $(BINS) $(E2E_BINS) $(LIBSO)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(QUIET_CC)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(QUIET_CC)$(CC) $(CFLAGS) -fPIC -MMD -MP -c $< -o $@

$(LIBSO): $(PIC_OBJS) frontend/libvgrant.map
	@mkdir -p $(dir $@)
	$(QUIET_LD)$(CC) $(LDSAN) -shared -Wl,-soname,libvgrant.so.$(SOMAJOR) \
	    -Wl,--version-script=frontend/libvgrant.map -Wl,-z,defs \
	    $(LDFLAGS) -o $@ $(PIC_OBJS) $(LDLIBS)
	ln -sf libvgrant.so.$(SOMAJOR) $(BUILD)/lib/libvgrant.so

$(LIBCOMMON): $(call obj,$(COMMON_SRCS))
$(LIBFRONT): $(call obj,$(FRONT_SRCS))
$(LIBBACK): $(call obj,$(BACK_SRCS))
$(LIBIO): $(call obj,$(IO_SRCS))
$(LIBFAKE): $(call obj,$(FAKE_SRCS))
# Also rebuilt when this file changes: a source moved out of a library
# (or removed) must not stay in its archive.
$(LIBCOMMON) $(LIBFRONT) $(LIBBACK) $(LIBIO) $(LIBFAKE): Makefile
	@mkdir -p $(dir $@)
	$(QUIET_AR)rm -f $@ && ar rcs $@ $(filter %.o,$^)

$(BUILD)/bin/vgrantd: $(call obj,backend/vgrantd.c) $(LIBBACK) $(LIBCOMMON)
$(BUILD)/bin/vgrantd: private LDLIBS += $(BACKLIBS)
$(BUILD)/bin/vgrant: $(call obj,tools/vgrant.c tools/vgrant_stats.c) $(LIBCOMMON)
# vgrant-io is linked against the shared libvgrant.so.0 (what the guest
# package ships and the e2e guests load), plus its own bench/verify/check
# code (libvgio.a) and the two stateless helpers of the common code it calls
# that the library keeps local (IO_COMMON: vg_now_s, vg_parse_uint,
# vg_parse_size).  It finds the library through RUNPATH $$ORIGIN/../lib
# (build/lib in the tree, $(PREFIX)/lib after make install); debian/rules
# sets IO_RPATH= (the library is in the multiarch directory, and Debian
# refuses a custom search path).
IO_COMMON := common/clock.c common/xsutil.c
IO_RPATH  ?= -Wl,-rpath,'$$ORIGIN/../lib'
$(BUILD)/bin/vgrant-io: $(call obj,$(IO_CLI) $(IO_COMMON)) $(LIBIO) $(LIBSO)
$(BUILD)/bin/vgrant-io: private BIN_LDFLAGS = $(IO_RPATH)
$(BUILD)/bin/vgrant-io: private LDLIBS = -lpthread
$(BUILD)/bin/vg-hostile: $(call obj,tests/e2e/hostile/vg-hostile.c) $(LIBCOMMON)
$(BUILD)/bin/vg-dm: $(call obj,tests/e2e/hostile/vg-dm.c)
$(BINS) $(E2E_BINS):
	@mkdir -p $(dir $@)
	$(QUIET_LD)$(CC) $(LDSAN) $(LDFLAGS) $(BIN_LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(call obj,tests/unit/%.c) $(call obj,$(TEST_SUPPORT)) \
		$(LIBIO) $(LIBFRONT) $(LIBBACK) $(LIBFAKE) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(QUIET_LD)$(CC) $(LDSAN) -o $@ $^ $(TESTLIBS) $(LDLIBS) $(BACKLIBS)

ifeq ($(FUZZ),1)
# The fake hypervisor and the hand-played guest are the harnesses' test
# doubles, not code under test: no coverage instrumentation (their edges
# were features libFuzzer kept inputs for, and their xenstore's string
# compares a tenth of fuzz_ring's time), ASan/UBSan kept.
FUZZ_DOUBLES_OPT ?= -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
                    -fno-sanitize-recover=undefined
$(call obj,$(FAKE_SRCS) tests/unit/rawfront.c): \
    CFLAGS := $(filter-out $(OPT),$(CFLAGS)) $(FUZZ_DOUBLES_OPT)
endif

build-fuzz/fuzz/%: $(call obj,tests/fuzz/%.c) $(call obj,$(FUZZ_SUPPORT)) \
		$(LIBFRONT) $(LIBBACK) $(LIBFAKE) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(QUIET_LD)$(CC) $(LDSAN) -o $@ $^ $(LDLIBS) $(BACKLIBS)

# Every test binary runs even if an earlier one fails; the summary line at
# the end counts binaries that passed and failed.  Unless SAN=1 (the fuzz
# build has ASan/UBSan already) or FUZZ_SMOKE=0, every libFuzzer harness
# also replays its seed corpus once (tests/fuzz/smoke.sh, one "test" per
# harness in the same summary).
ifeq ($(SAN),1)
FUZZ_SMOKE ?= 0
else
FUZZ_SMOKE ?= 1
endif
ifeq ($(FUZZ_SMOKE),1)
SMOKE_DEP  := fuzz-build
SMOKE_PROG := tests/fuzz/smoke.sh
endif
test: $(TESTS) $(BINS) $(LIBSO) $(SMOKE_DEP)
	@VGRANT_BUILD=$(BUILD) VGRANT_SAN=$(SAN) tools/run-tests.sh $(TESTS) $(SCRIPT_TESTS) $(SMOKE_PROG)

test-san:
	@$(MAKE) $(SUBMAKE) SAN=1 test

deps:
	@tools/install-deps.sh

check: deps
	$(MAKE) test
	$(MAKE) test-san
	$(MAKE) e2e
	$(MAKE) e2e-xl
	$(MAKE) e2e-san
	$(MAKE) deb
	$(MAKE) e2e-deb

# The daemon side built with ASan/UBSan on real Xen, a few scenarios (make
# check runs it; make e2e SAN=1 runs any list the same way).
E2E_SAN_SCENARIOS ?= smoke basic modes
e2e-san:
	$(MAKE) SAN=1 e2e E2E_SCENARIOS="$(E2E_SAN_SCENARIOS)"

# The scenarios `make e2e` runs (bench is `make bench`, demo `make demo`).
# The kernel-* ones run the stock guest kernel's virtio drivers over
# virtio_grant.ko (built for the guest kernel by tests/e2e/build-kmod.sh);
# those that passed on real Xen are here, all are in E2E_KERNEL_SCENARIOS.
E2E_SCENARIOS ?= smoke basic many destroy restart modes direct rng driverdomain pvblock \
                 kernel-fio kernel-ro kernel-unplug kernel-rng kernel-fs \
                 kernel-saverestore kernel-badbackend kernel-stall

# make e2e SAN=1 (also e2e-fault, e2e-kernel): dom0 runs the ASan/UBSan
# build of the daemon side (build-san/bin: vgrantd, vgrant, vg-dm, with the
# sanitizer runtimes), the guests the plain build (build/bin); a sanitizer
# report during a scenario FAILs it (tests/e2e/runner.sh, docs/e2e.md).
ifeq ($(SAN),1)
E2E_RUN = $(MAKE) SAN=0 BUILD=build all && \
          VGRANT_E2E_BINDIR=$(CURDIR)/build/bin \
          VGRANT_E2E_DOM0_BINDIR=$(CURDIR)/$(BUILD)/bin VGRANT_E2E_SAN=1 \
          tests/e2e/run.sh
else
E2E_RUN = tests/e2e/run.sh
endif

# With E2E_SCENARIOS named on the command line (or in the environment) the
# target runs only those, in one boot; otherwise both boots, and it fails
# if either failed.
e2e: all
ifeq ($(filter command line environment,$(origin E2E_SCENARIOS)),)
	@rc=0; $(E2E_RUN) -t 3000 $(E2E_SCENARIOS) || rc=1; \
	$(E2E_RUN) -t 2400 -s 600 $(E2E_FAULT_SCENARIOS) || rc=1; \
	$(E2E_RUN) -t 3600 -s 3300 $(E2E_NET_SCENARIOS) || rc=1; exit $$rc
else
	$(E2E_RUN) -t 3000 $(E2E_SCENARIOS)
endif

# Every kernel scenario in one boot (docs/e2e.md says which pass);
# kernel-xl runs with the patched xl, in make e2e-xl
E2E_KERNEL_SCENARIOS ?= kernel-fs kernel-fio kernel-ro kernel-unplug kernel-saverestore kernel-rng \
                        kernel-badbackend kernel-stall
e2e-kernel: all
	$(E2E_RUN) -t 3600 -s 900 $(E2E_KERNEL_SCENARIOS)

# The fault matrix (docs/e2e.md "The fault matrix"): its own boot, so a
# fault that hangs cannot eat the time of the scenarios above (each fault
# scenario gets 600 s at most).
# fault-kill kills vgrantd after it served a number of writes of a guest
# session that only ends when dom0 says so: mid-write by construction, on
# an idle machine as on a loaded one (it used to depend on timing and was
# out of this list).
E2E_FAULT_SCENARIOS ?= fault-eio fault-enospc fault-kill fault-destroy-modes \
                       fault-reattach fault-hostile fault-slow fault-hang
e2e-fault: all
	$(E2E_RUN) -t 2400 -s 600 $(E2E_FAULT_SCENARIOS)

# kernel-net (issue 10: virtio_net over virtio_grant.ko, 1000 pings to
# dom0 and to a second guest, 256 MiB over TCP each way, detach and xl
# destroy mid-transfer) in a boot of its own: about 18 minutes under TCG
# on 2 cores (1074 s in the CI rehearsal at f4403df; docs/e2e.md), each transfer bounded by KNET_TCP_S (1200 s)
E2E_NET_SCENARIOS ?= kernel-net

demo: deps all
	tests/e2e/demo.sh

# `xl create` with virtio_grant devices: build xl/libxl with xen-patches/
# (cached), put them in dom0, run the xl scenarios (backend in dom0, in
# a driver domain, the guest kernel's module with a disk and an rng, and
# with network cards: xl-net).
E2E_XL_SCENARIOS ?= xl xl-driverdomain kernel-xl xl-net
e2e-xl: all
	@xldir=$$(xen-patches/build.sh) && [ -d "$$xldir" ] && \
	    VGRANT_E2E_XL_DIR="$$xldir" tests/e2e/run.sh -t 2100 $(E2E_XL_SCENARIOS)

# Benchmark matrix on real Xen under QEMU: libvgrant modes (vgrant-io bench),
# kernel-* modes (virtio_grant.ko) and pvblock (both with fio), then the
# network rows (net-<mode>: virtio_net over virtio_grant.ko; netfront; iperf3
# and ping): bench/results/, PNG plots and docs/benchmarks.md.  BENCH_MODES,
# BENCH_SIZES, BENCH_DEPTHS, BENCH_NET_MODES... narrow it (empty BENCH_MODES
# or BENCH_NET_MODES: none of those rows; tools/bench/bench.sh).  Not a test:
# no speed is asserted.
bench: deps all
	tools/bench/bench.sh

# Scaling on real Xen under QEMU (issue 9 item 4): 1, 2, 4, 8 guests
# (about 17 min on 2 cores; time and bounds in docs/e2e.md, "How long
# make bench-scale takes"), two
# virtio-grant blk devices each, all on one vgrantd, the same workload on
# every device at once: bench/results/scale.csv, scale-<mode>.png and
# docs/benchmarks-scale.md.  BENCH_SCALE_GUESTS (e.g. 1,2,4 for ~10 min),
# BENCH_SCALE_MODES... set it (tools/bench/bench-scale.sh).  Not a test:
# no speed is asserted.
bench-scale: deps all
	tools/bench/bench-scale.sh

# make install [PREFIX=/usr/local] [DESTDIR=] [MANDIR=] [LIBDIR=]: the
# programs, libvgrant (shared, headers, pkg-config file vgrant.pc) and the
# man pages.  The Debian packages (make deb) install the same files.
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include/libvgrant
MANDIR  ?= $(PREFIX)/share/man
PUBLIC_HEADERS := frontend/libvgrant.h frontend/vgrant_blk.h
PUBLIC_VG_HEADERS := include/vgrant/hyp.h include/vgrant/virtio.h include/vgrant/log.h
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig \
	    $(DESTDIR)$(INCDIR)/vgrant $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7 \
	    $(DESTDIR)$(MANDIR)/man8
	install -m 755 $(BUILD)/bin/vgrantd $(BUILD)/bin/vgrant $(DESTDIR)$(SBINDIR)/
	install -m 755 $(BUILD)/bin/vgrant-io $(DESTDIR)$(BINDIR)/
	install -m 644 $(LIBSO) $(DESTDIR)$(LIBDIR)/libvgrant.so.$(SOMAJOR)
	ln -sf libvgrant.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libvgrant.so
	install -m 644 $(PUBLIC_HEADERS) $(DESTDIR)$(INCDIR)/
	install -m 644 $(PUBLIC_VG_HEADERS) $(DESTDIR)$(INCDIR)/vgrant/
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCDIR@|$(INCDIR)|; s|@VERSION@|$(VERSION)|' \
	    frontend/vgrant.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/vgrant.pc
	install -m 644 docs/man/vgrant-io.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 docs/man/virtio-grant.7 $(DESTDIR)$(MANDIR)/man7/
	install -m 644 docs/man/vgrantd.8 docs/man/vgrant.8 $(DESTDIR)$(MANDIR)/man8/

# Coverage-guided fuzzing (tests/fuzz/README.md): build every harness into
# build-fuzz/ with clang's libFuzzer, run each for FUZZ_SECONDS seconds
# (under nice) over its seed corpus, print executions, coverage and crashes;
# fails on any crash.  FUZZ_HARNESSES="fuzz_ring fuzz_xport" runs only
# those; FUZZ_CPU=N runs them on CPU N only (tools/run-fuzz.sh -c).
FUZZ_SECONDS ?= 10
fuzz-build:
	@command -v $(FUZZ_CC) >/dev/null || { echo "fuzz: $(FUZZ_CC) not found: make deps" >&2; exit 1; }
	@$(MAKE) --no-print-directory FUZZ=1 fuzz-bins

# (inside fuzz-build's make: the harnesses, silently when up to date)
.PHONY: fuzz-bins
fuzz-bins: $(FUZZERS)
	@:

fuzz: fuzz-build
	tools/run-fuzz.sh -t $(FUZZ_SECONDS) $(if $(FUZZ_CPU),-c $(FUZZ_CPU)) \
	    $(if $(FUZZ_HARNESSES),$(addprefix build-fuzz/fuzz/,$(FUZZ_HARNESSES)),$(FUZZERS))

# Debian packages (debian/, docs/install.md): virtio-grant, virtio-grant-guest,
# libvgrant-dev, virtio-grant-dkms into build/debs/, then lintian on them.
DEB_OUT := build/debs
deb:
	@tools/install-deps.sh build deb
	rm -rf $(DEB_OUT) && mkdir -p $(DEB_OUT)
	VGRANT_DEB_OUT=$(CURDIR)/$(DEB_OUT) dpkg-buildpackage -us -uc -b \
	    --buildinfo-option=-u$(CURDIR)/$(DEB_OUT) --changes-option=-u$(CURDIR)/$(DEB_OUT) \
	    --buildinfo-file=$(CURDIR)/$(DEB_OUT)/virtio-grant.buildinfo \
	    --changes-file=$(CURDIR)/$(DEB_OUT)/virtio-grant.changes
	lintian --info --fail-on error $(DEB_OUT)/virtio-grant.changes

# The e2e scenarios on the packages (docs/e2e.md "Images from the
# packages"): after make deb, the images get the payload of the .debs in
# build/debs at their own paths (tests/e2e/image-debs.sh), virtio_grant.ko
# built from virtio-grant-dkms's source by its dkms.conf, and the
# scenarios start vgrantd as vgrantd.service says; only the test-only
# vg-hostile and vg-dm come from build/bin.  pkg checks the packaged files
# (md5sums), the unit's command line, the guest's libvgrant.so.0 and a
# reload.  E2E_SCENARIOS on the command line replaces the list.
E2E_DEB_SCENARIOS ?= smoke pkg basic kernel-rng
ifeq ($(filter command line environment,$(origin E2E_SCENARIOS)),)
E2E_DEB_RUN := $(E2E_DEB_SCENARIOS)
else
E2E_DEB_RUN := $(E2E_SCENARIOS)
endif
E2E_DEB_PKGS := virtio-grant virtio-grant-guest virtio-grant-dkms
e2e-deb: all
	$(foreach p,$(E2E_DEB_PKGS),$(if $(wildcard $(DEB_OUT)/$(p)_*.deb),,\
	    $(error e2e-deb: no $(p)_*.deb in $(DEB_OUT): run make deb first)))
	VGRANT_E2E_DEBS=$(CURDIR)/$(DEB_OUT) tests/e2e/run.sh -t 1800 $(E2E_DEB_RUN)

clean:
	rm -rf build build-san build-fuzz build-deb

.SECONDARY:

# The header comment of this file, one line per target.
help:
	@sed -n '3,/^$$/{/^$$/d;s/^# \{0,1\}//;p}' Makefile

-include $(shell find $(BUILD)/obj $(BUILD)/pic -name '*.d' 2>/dev/null)

# The guest kernel transport (docs/kernel.md), built against a kernel's
# headers: make kmod KDIR=/usr/src/linux-headers-<version>
KDIR ?= /lib/modules/$(shell uname -r)/build
kmod:
	$(MAKE) -C $(KDIR) M=$(CURDIR)/frontend/linux modules

kmod-clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR)/frontend/linux clean
