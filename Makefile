# voxmesh — plain GNU Make, out-of-tree objects under build/.
#
# Conventions (no per-directory makefiles needed):
#   common/**/*.c          -> build/libvoxmesh.a        (minus *_test.c)
#   common/**/X_test.c     -> build/tests/common/X_test (unit test, linked with the library)
#   services/D/*.c         -> build/bin/voxmesh-D       (services/voxmesh -> build/bin/voxmesh)
#   services/D/X_test.c    -> build/tests/D/X_test      (linked with D's objects except main.c)
#   fuzz/X.c               -> build/fuzz/X              (clang libFuzzer, linked with the library)
#   tests/*.sh             -> integration tests, run by scripts/run-tests.sh

.DEFAULT_GOAL := all

BUILD    ?= build
SAN      ?=
CC       ?= cc
ifeq ($(CC),cc)
CC := gcc
endif

PKGS := libzmq libczmq libwebsockets libsrtp2 nice glib-2.0 opus ogg vpx libprotobuf-c \
        soxr libcurl libsystemd openssl libcgraph libgvc pocketsphinx

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
FLITE_LIBS := -lflite_cmu_us_slt -lflite_cmu_us_kal -lflite_usenglish -lflite_cmulex -lflite

OPT      ?= -O2
# Quiet by default: one short line per step; V=1 prints full command lines.
V        ?=
Q        := $(if $(V),,@)
say       = $(if $(V),,@printf '  %-7s %s\n' '$(1)' '$(2)';)
CFLAGS   := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $(OPT) -g -MMD -MP \
            -I common -I $(BUILD)/gen $(PKG_CFLAGS)
LDFLAGS  := -Wl,--as-needed
LDLIBS   := $(PKG_LIBS) $(FLITE_LIBS) -lm -lpthread

ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

# ---- generated protobuf code -------------------------------------------------
PROTO_C := $(BUILD)/gen/voxmesh.pb-c.c
PROTO_H := $(BUILD)/gen/voxmesh.pb-c.h

$(PROTO_C) $(PROTO_H) &: proto/voxmesh.proto
	@mkdir -p $(BUILD)/gen
	$(call say,PROTOC,$<)protoc-c --proto_path=proto --c_out=$(BUILD)/gen proto/voxmesh.proto

# ---- libvoxmesh ----------------------------------------------------------------
LIB_SRC  := $(shell find common -name '*.c' ! -name '*_test.c' | sort)
LIB_OBJ  := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC)) $(BUILD)/obj/gen/voxmesh.pb-c.o
LIB      := $(BUILD)/libvoxmesh.a

$(LIB): $(LIB_OBJ)
	@rm -f $@
	$(call say,AR,$@)ar rcs $@ $^

$(BUILD)/obj/%.o: %.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/gen/voxmesh.pb-c.o: $(PROTO_C)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(filter-out -Wextra,$(CFLAGS)) -c $< -o $@

# ---- services ----------------------------------------------------------------
SVC_DIRS := $(sort $(notdir $(patsubst %/,%,$(wildcard services/*/))))
svc_bin   = $(BUILD)/bin/$(if $(filter voxmesh,$(1)),voxmesh,voxmesh-$(1))
svc_src   = $(filter-out %_test.c,$(wildcard services/$(1)/*.c))
svc_www   = $(sort $(wildcard services/$(1)/www/*))
svc_obj   = $(patsubst %.c,$(BUILD)/obj/%.o,$(call svc_src,$(1))) \
            $(if $(call svc_www,$(1)),$(BUILD)/obj/gen/$(1)_www.o)
svc_tests = $(patsubst services/$(1)/%.c,$(BUILD)/tests/$(1)/%,$(wildcard services/$(1)/*_test.c))

define SVC_RULES
$(BUILD)/gen/$(1)_www.c: $(call svc_www,$(1)) scripts/embed-www.sh
	@mkdir -p $$(dir $$@)
	$$(call say,EMBED,$$@)scripts/embed-www.sh $(1) $$@ $(call svc_www,$(1))

$(BUILD)/obj/gen/$(1)_www.o: $(BUILD)/gen/$(1)_www.c
	@mkdir -p $$(dir $$@)
	$$(call say,CC,$$<)$$(CC) $$(CFLAGS) -c $$< -o $$@

$(call svc_bin,$(1)): $(call svc_obj,$(1)) $(LIB)
	@mkdir -p $$(dir $$@)
	$$(call say,LINK,$$@)$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)

$(BUILD)/tests/$(1)/%_test: $(BUILD)/obj/services/$(1)/%_test.o $(filter-out %/main.o,$(call svc_obj,$(1))) $(LIB)
	@mkdir -p $$(dir $$@)
	$$(call say,LINK,$$@)$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach d,$(SVC_DIRS),$(eval $(call SVC_RULES,$(d))))

BINS       := $(foreach d,$(SVC_DIRS),$(call svc_bin,$(d)))
SVC_TESTS  := $(foreach d,$(SVC_DIRS),$(call svc_tests,$(d)))

# ---- unit tests of common/ -----------------------------------------------------
COMMON_TEST_SRC := $(shell find common -name '*_test.c' | sort)
COMMON_TESTS    := $(patsubst common/%.c,$(BUILD)/tests/common/%,$(COMMON_TEST_SRC))

$(BUILD)/tests/common/%_test: $(BUILD)/obj/common/%_test.o $(LIB)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

UNIT_TESTS := $(COMMON_TESTS) $(SVC_TESTS)

# ---- test tools (tests/tools/X.c -> build/tests/tools/X, linked with the library) ---
TOOL_BINS := $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(wildcard tests/tools/*.c))

$(BUILD)/tests/tools/%: $(BUILD)/obj/tests/tools/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ---- benchmarks ------------------------------------------------------------------
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))

# bench/D_bench.c also links service D's modules (all but its main.c).
bench_svc_obj = $(if $(filter $(1),$(SVC_DIRS)),$(filter-out %/main.o,$(call svc_obj,$(1))))
define BENCH_RULE
$(BUILD)/bench/$(1): $(BUILD)/obj/bench/$(1).o $(call bench_svc_obj,$(patsubst %_bench,%,$(1))) $(LIB)
	@mkdir -p $$(dir $$@)
	$$(call say,LINK,$$@)$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach b,$(patsubst bench/%.c,%,$(wildcard bench/*.c)),$(eval $(call BENCH_RULE,$(b))))

# ---- fuzz targets (clang + libFuzzer) ------------------------------------------
FUZZ_SRC  := $(wildcard fuzz/*.c)
FUZZ_BINS := $(patsubst fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
FUZZ_CFLAGS := $(filter-out -MMD -MP,$(CFLAGS)) -fsanitize=fuzzer-no-link,address,undefined
FUZZ_OBJ  := $(patsubst %.c,$(BUILD)/fuzzobj/%.o,$(LIB_SRC)) $(BUILD)/fuzzobj/gen/voxmesh.pb-c.o

$(BUILD)/fuzzobj/%.o: %.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(call say,CLANG,$<)clang $(FUZZ_CFLAGS) -c $< -o $@
$(BUILD)/fuzzobj/gen/voxmesh.pb-c.o: $(PROTO_C)
	@mkdir -p $(dir $@)
	$(call say,CLANG,$<)clang $(filter-out -Wextra,$(FUZZ_CFLAGS)) -c $< -o $@
$(BUILD)/fuzz/%: fuzz/%.c $(FUZZ_OBJ)
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@)clang $(FUZZ_CFLAGS) -MMD -MP -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# ---- top-level targets ---------------------------------------------------------
# Keep test and bench objects (make would delete them as intermediates).
.SECONDARY:

.PHONY: all setup build run test unit asan bench fuzz clean install

all: build

setup:
	@scripts/setup.sh

build: $(LIB) $(BINS) $(UNIT_TESTS) $(TOOL_BINS)

run: setup
	@$(MAKE) --no-print-directory build
	$(BUILD)/bin/voxmesh up deploy/graphs/agent

test: setup
	@$(MAKE) --no-print-directory build fuzz
	@BUILD=$(BUILD) scripts/run-tests.sh $(UNIT_TESTS)

unit: build
	@BUILD=$(BUILD) scripts/run-tests.sh --unit-only $(UNIT_TESTS)

asan: setup
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 OPT=-O1 build
	@BUILD=build/asan VOXMESH_ASAN=1 scripts/run-tests.sh $(patsubst $(BUILD)/%,build/asan/%,$(UNIT_TESTS))

fuzz: $(FUZZ_BINS)

bench: setup
	@$(MAKE) --no-print-directory build $(BENCH_BINS)
	@BUILD=$(BUILD) bench/run.sh

clean:
	rm -rf build

# ---- install (docs/deploy-systemd.md) -------------------------------------------
# Binaries, systemd units and generator, the shipped graphs, rules and STT text
# (deploy/X -> DATADIR/X; graph settings naming deploy/... are rewritten to
# the installed copies), and SYSCONFDIR/voxmesh/graph, the graph systemd runs
# (a copy of the agent graph; an existing one is kept).
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
DATADIR    ?= $(PREFIX)/share/voxmesh
UNITDIR    ?= $(PREFIX)/lib/systemd/system
GENDIR     ?= $(PREFIX)/lib/systemd/system-generators
SYSCONFDIR ?= /etc
INSTALL_SUBST = sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@UNITDIR@|$(UNITDIR)|g'
INSTALL_UNITS = $(wildcard systemd/*.service systemd/*.target)

install: build
	$(call say,INSTALL,$(DESTDIR)$(PREFIX))install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(GENDIR) \
	    $(DESTDIR)$(DATADIR)/graphs $(DESTDIR)$(DATADIR)/rules $(DESTDIR)$(DATADIR)/stt $(DESTDIR)$(SYSCONFDIR)/voxmesh
	$(Q)install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)/
	$(Q)install -m 0644 deploy/rules/* $(DESTDIR)$(DATADIR)/rules/
	$(Q)install -m 0644 deploy/stt/* $(DESTDIR)$(DATADIR)/stt/
	$(Q)for g in $(filter-out %.md,$(wildcard deploy/graphs/*)); do \
	    sed -e 's|^\( *[A-Za-z0-9_-]* *= *\)deploy/|\1$(DATADIR)/|' $$g > $(DESTDIR)$(DATADIR)/graphs/$${g##*/} || exit 1; done
	$(Q)for u in $(INSTALL_UNITS); do $(INSTALL_SUBST) $$u > $(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; done
	$(Q)$(INSTALL_SUBST) systemd/voxmesh-generator > $(DESTDIR)$(GENDIR)/voxmesh-generator && chmod 0755 $(DESTDIR)$(GENDIR)/voxmesh-generator
	$(Q)if [ -e $(DESTDIR)$(SYSCONFDIR)/voxmesh/graph ]; then \
	    echo "  KEPT    $(DESTDIR)$(SYSCONFDIR)/voxmesh/graph (the shipped one: $(DATADIR)/graphs/agent)"; \
	else install -m 0644 $(DESTDIR)$(DATADIR)/graphs/agent $(DESTDIR)$(SYSCONFDIR)/voxmesh/graph; fi

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
