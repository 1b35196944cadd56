# virtio-grant top-level Makefile.
#
#   make            build libraries, vgrantd, vgrant, vgrant-io into build/
#   make test       unit + loopback tests (no Xen needed)
#   make test-san   the same under AddressSanitizer + UBSan (build-san/)
#   make check      install missing build deps, then test, test-san, e2e
#                   and e2e-xl
#   make e2e        real Xen 4.17 under QEMU, every scenario (tests/e2e)
#   make demo       the main job: boot Xen under QEMU, run a guest workload
#   make e2e-kernel the guest kernel's own virtio drivers over virtio_grant.ko
#                   on real Xen under QEMU (tests/e2e/scenarios/kernel-*)
#   make e2e-xl     build xl/libxl with xen-patches/, `xl create` a guest
#                   with virtio_grant devices on real Xen under QEMU
#   make bench      every transport mode and Xen's PV block driver on real
#                   Xen under QEMU: bench/results/, docs/benchmarks.md
#   make bench      benchmark every transport mode and Xen's PV block driver
#   make kmod KDIR=/usr/src/linux-headers-<version>
#                   the guest kernel module frontend/linux/virtio_grant.ko
#                   (docs/kernel.md); KDIR defaults to the running kernel's

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

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIBCOMMON := $(BUILD)/lib/libvgcommon.a
LIBFRONT  := $(BUILD)/lib/libvgrant.a
LIBBACK   := $(BUILD)/lib/libvgbackend.a
BINS      := $(BUILD)/bin/vgrantd $(BUILD)/bin/vgrant $(BUILD)/bin/vgrant-io
TESTS     := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRCS))

.PHONY: all test test-san check deps e2e demo bench install clean e2e-xl e2e-kernel kmod kmod-clean
all: $(BINS)

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
$(BINS):
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(call obj,tests/unit/%.c) $(call obj,$(TEST_SUPPORT)) \
		$(LIBFRONT) $(LIBBACK) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -o $@ $^ $(TESTLIBS) $(LDLIBS)

# Every test binary runs even if an earlier one fails; the summary line at
# the end counts binaries that passed and failed.
test: $(TESTS) $(BINS)
	@tools/run-tests.sh $(TESTS)

test-san:
	$(MAKE) SAN=1 test

deps:
	@tools/install-deps.sh

check: deps
	$(MAKE) test
	$(MAKE) test-san
	$(MAKE) e2e
	$(MAKE) e2e-xl

# The scenarios `make e2e` runs (bench is `make bench`, demo `make demo`).
# The kernel-* ones run the stock guest kernel's virtio drivers over
# virtio_grant.ko (built for the guest kernel by tests/e2e/build-kmod.sh);
# those that passed on real Xen are here, all are in E2E_KERNEL_SCENARIOS.
E2E_SCENARIOS ?= smoke basic many destroy restart modes driverdomain pvblock \
                 kernel-fio kernel-ro kernel-unplug

e2e: all
	tests/e2e/run.sh -t 1800 $(E2E_SCENARIOS)

# Every kernel scenario in one boot (docs/e2e.md says which pass);
# kernel-xl runs with the patched xl: make e2e-xl E2E_XL_SCENARIOS=kernel-xl
E2E_KERNEL_SCENARIOS ?= kernel-fs kernel-fio kernel-ro kernel-unplug kernel-saverestore kernel-rng
e2e-kernel: all
	tests/e2e/run.sh -t 3600 -s 900 $(E2E_KERNEL_SCENARIOS)

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

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# The guest kernel transport (docs/kernel.md), built against a kernel's
# headers: make kmod KDIR=/usr/src/linux-headers-<version>
KDIR ?= /lib/modules/$(shell uname -r)/build
kmod:
	$(MAKE) -C $(KDIR) M=$(CURDIR)/frontend/linux modules

kmod-clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR)/frontend/linux clean
