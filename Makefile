# virtio-grant top-level Makefile.
#
#   make            build libraries, vgrantd, vgrant, vgrant-io into build/
#   make test       unit + loopback tests (no Xen needed)
#   make test-san   the same under AddressSanitizer + UBSan (build-san/)
#   make check      install missing build deps, then test, test-san, e2e,
#                   e2e-fault and e2e-xl
#   make e2e        real Xen 4.17 under QEMU, every scenario (tests/e2e)
#   make e2e-fault  the fault matrix (fault-* scenarios) on real Xen, one boot
#   make demo       the main job: boot Xen under QEMU, run a guest workload
#   make e2e-xl     build xl/libxl with xen-patches/, `xl create` a guest
#                   with virtio_grant devices on real Xen under QEMU
#   make bench      every transport mode and Xen's PV block driver on real
#                   Xen under QEMU: bench/results/, docs/benchmarks.md
#   make install    install the binaries under $(PREFIX) (/usr/local)
#   make clean      remove build/ and build-san/
#   make help       this list

CC      ?= cc
SAN     ?= 0
ifeq ($(SAN),1)
BUILD   ?= build-san
OPT     := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=undefined
LDSAN   := -fsanitize=address,undefined
else
BUILD   ?= build
OPT     := -O2
LDSAN   :=
endif

CFLAGS  := -std=gnu11 -g $(OPT) -Wall -Wextra -Werror -Wshadow \
           -Wmissing-prototypes -Wstrict-prototypes -D_GNU_SOURCE \
           -Iinclude -Ifrontend -Ibackend $(EXTRA_CFLAGS)
XENLIBS := -lxengnttab -lxenevtchn -lxenstore -lxenctrl
LDLIBS  := $(XENLIBS) -lpthread
TESTLIBS := -lcmocka

COMMON_SRCS   := $(wildcard common/*.c)
FRONT_SRCS    := $(filter-out frontend/vgrant-io.c,$(wildcard frontend/*.c))
BACK_SRCS     := $(filter-out backend/vgrantd.c,$(wildcard backend/*.c))
TEST_SUPPORT  := $(filter-out tests/unit/test_%.c,$(wildcard tests/unit/*.c))
TEST_SRCS     := $(wildcard tests/unit/test_*.c)
SCRIPT_TESTS  := $(wildcard tests/scripts/test_*.sh)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIBCOMMON := $(BUILD)/lib/libvgcommon.a
LIBFRONT  := $(BUILD)/lib/libvgrant.a
LIBBACK   := $(BUILD)/lib/libvgbackend.a
BINS      := $(BUILD)/bin/vgrantd $(BUILD)/bin/vgrant $(BUILD)/bin/vgrant-io
# test-only programs the e2e fault scenarios put in the images
# (tests/e2e/hostile/: a hostile frontend, device-mapper without dmsetup)
E2E_BINS  := $(BUILD)/bin/vg-hostile $(BUILD)/bin/vg-dm
TESTS     := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRCS))

.PHONY: all test test-san check deps e2e e2e-fault demo bench install clean e2e-xl help
all: $(BINS) $(E2E_BINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIBCOMMON): $(call obj,$(COMMON_SRCS))
$(LIBFRONT): $(call obj,$(FRONT_SRCS))
$(LIBBACK): $(call obj,$(BACK_SRCS))
$(LIBCOMMON) $(LIBFRONT) $(LIBBACK):
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/vgrantd: $(call obj,backend/vgrantd.c) $(LIBBACK) $(LIBCOMMON)
$(BUILD)/bin/vgrant: $(call obj,tools/vgrant.c) $(LIBCOMMON)
$(BUILD)/bin/vgrant-io: $(call obj,frontend/vgrant-io.c) $(LIBFRONT) $(LIBCOMMON)
$(BUILD)/bin/vg-hostile: $(call obj,tests/e2e/hostile/vg-hostile.c) $(LIBCOMMON)
$(BUILD)/bin/vg-dm: $(call obj,tests/e2e/hostile/vg-dm.c)
$(BINS) $(E2E_BINS):
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(call obj,tests/unit/%.c) $(call obj,$(TEST_SUPPORT)) \
		$(LIBFRONT) $(LIBBACK) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -o $@ $^ $(TESTLIBS) $(LDLIBS)

# Every test binary runs even if an earlier one fails; the summary line at
# the end counts binaries that passed and failed.
test: $(TESTS) $(BINS)
	@tools/run-tests.sh $(TESTS) $(SCRIPT_TESTS)

test-san:
	$(MAKE) SAN=1 test

deps:
	@tools/install-deps.sh

check: deps
	$(MAKE) test
	$(MAKE) test-san
	$(MAKE) e2e
	$(MAKE) e2e-fault
	$(MAKE) e2e-xl

# The scenarios `make e2e` runs (bench is `make bench`, demo `make demo`).
E2E_SCENARIOS ?= smoke basic many destroy restart modes driverdomain pvblock

e2e: all
	tests/e2e/run.sh -t 1500 $(E2E_SCENARIOS)

# The fault matrix (docs/e2e.md "The fault matrix"): its own boot, so a
# fault that hangs cannot eat the time of the scenarios above (each fault
# scenario gets 600 s at most).
E2E_FAULT_SCENARIOS ?= fault-eio fault-enospc fault-kill fault-destroy-modes \
                       fault-reattach fault-hostile
e2e-fault: all
	tests/e2e/run.sh -t 2400 -s 600 $(E2E_FAULT_SCENARIOS)

demo: deps all
	tests/e2e/demo.sh

# `xl create` with virtio_grant devices: build xl/libxl with xen-patches/
# (cached), put them in dom0, run the xl scenarios (backend in dom0, and in
# a driver domain).
E2E_XL_SCENARIOS ?= xl xl-driverdomain
e2e-xl: all
	@xldir=$$(xen-patches/build.sh) && [ -d "$$xldir" ] && \
	    VGRANT_E2E_XL_DIR="$$xldir" tests/e2e/run.sh -t 900 $(E2E_XL_SCENARIOS)

# Benchmark matrix on real Xen under QEMU (~10 min): bench/results/latest.csv,
# PNG plots and docs/benchmarks.md.  Not a test: no speed is asserted.
bench: all
	tools/bench/bench.sh

PREFIX ?= /usr/local
install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BUILD)/bin/vgrantd $(BUILD)/bin/vgrant $(DESTDIR)$(PREFIX)/sbin/
	install -m 755 $(BUILD)/bin/vgrant-io $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build build-san

# The header comment of this file, one line per target.
help:
	@sed -n '3,/^$$/{/^$$/d;s/^# \{0,1\}//;p}' Makefile

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
