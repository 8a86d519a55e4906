# txscope - build, test, install.
#   make            release build: bin/txscoped, bin/txscope
#   make check      installs missing packages, builds with ASan/UBSan, runs unit and
#                   integration tests (real PostgreSQL and MariaDB started on loopback in
#                   a temp dir)
#   make demo       a throwaway PostgreSQL, the daemon, a sample session
#   make bench      txscope against direct PostgreSQL and PgBouncer (bench/compare)
#   make install    PREFIX=/usr/local DESTDIR=
#   make format-check, make clean

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DOCDIR ?= $(PREFIX)/share/doc/txscope

CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS := libuv libpq libmariadb inih
# Debian's libhttp-parser-dev ships no .pc file.
DAEMON_LIBS := -lhttp_parser
# libedit for the CLI's line editing; Debian's pkg-config name is libedit.
CLI_PKGS := libcjson libedit
TEST_PKGS := check libcjson

# Build flavours: release (-O2) and asan (ASan + UBSan, assertions on).
FLAVOUR ?= release
O := build/$(FLAVOUR)
ifeq ($(FLAVOUR),asan)
OPT := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -DTXS_DEBUG
LDOPT := -fsanitize=address,undefined
else
OPT := -O2 -g
LDOPT :=
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
CPPFLAGS += -I. -D_GNU_SOURCE
BASE_CFLAGS := -std=c11 $(WARN) $(OPT)
DEP_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) $(CLI_PKGS) 2>/dev/null)
ALL_CFLAGS = $(BASE_CFLAGS) $(DEP_CFLAGS) $(CFLAGS)

PROTOCOL_SRC := $(wildcard protocol/*.c)
CONF_SRC := $(wildcard conf/*.c)
DRIVERS_SRC := $(wildcard drivers/*.c)
DAEMON_SRC := $(filter-out daemon/main.c,$(wildcard daemon/*.c))
LIBTXSCOPE_SRC := $(wildcard clients/c/libtxscope/*.c)
CLI_SRC := $(wildcard clients/c/cli/*.c)
BENCH_SRC := $(wildcard bench/txscope-bench/*.c)
IDLE_PG_SRC := $(wildcard bench/idle-pg/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_LIB_SRC := $(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c))
ITEST_SRC := $(wildcard tests/integration/test_*.c)
ITEST_LIB_SRC := $(filter-out $(ITEST_SRC),$(wildcard tests/integration/*.c))

obj = $(patsubst %.c,$(O)/obj/%.o,$(1))

DAEMON_OBJ := $(call obj,$(PROTOCOL_SRC) $(CONF_SRC) $(DRIVERS_SRC) $(DAEMON_SRC))
LIBTXSCOPE_OBJ := $(call obj,$(LIBTXSCOPE_SRC))
UNIT_DEPS_OBJ := $(call obj,$(PROTOCOL_SRC) $(CONF_SRC) daemon/log.c daemon/journal.c daemon/levels.c daemon/histogram.c daemon/metrics.c daemon/tx_sql.c drivers/stmt_copy.c drivers/pg_tx.c drivers/mysql_dsn.c drivers/mysql_text.c drivers/pg_state.c drivers/pg_cache.c)

.PHONY: FORCE analyze all release asan check unit integration demo bench install clean format format-check

all: bin/txscoped bin/txscope bin/txscope-bench bin/idle-pg-clients

ifeq ($(FLAVOUR),release)
bin/txscoped: $(O)/bin/txscoped
	@mkdir -p bin && cp $< $@
bin/txscope: $(O)/bin/txscope
	@mkdir -p bin && cp $< $@
bin/txscope-bench: $(O)/bin/txscope-bench
	@mkdir -p bin && cp $< $@
bin/idle-pg-clients: $(O)/bin/idle-pg-clients
	@mkdir -p bin && cp $< $@
endif

$(O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(O)/bin/txscoped: $(DAEMON_OBJ) $(call obj,daemon/main.c)
	@mkdir -p $(dir $@)
	$(CC) $(LDOPT) $(LDFLAGS) -o $@ $^ $(shell $(PKG_CONFIG) --libs $(PKGS)) $(DAEMON_LIBS) -lm

$(O)/lib/libtxscope.a: $(LIBTXSCOPE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(O)/bin/txscope: $(call obj,$(CLI_SRC)) $(O)/lib/libtxscope.a
	@mkdir -p $(dir $@)
	$(CC) $(LDOPT) $(LDFLAGS) -o $@ $^ $(shell $(PKG_CONFIG) --libs $(CLI_PKGS))

# Benchmark tools: the load generator (on libuv and libtxscope) and a holder of idle
# PostgreSQL connections (for PgBouncer's memory per client).
$(O)/bin/txscope-bench: $(call obj,$(BENCH_SRC)) $(O)/lib/libtxscope.a
	@mkdir -p $(dir $@)
	$(CC) $(LDOPT) $(LDFLAGS) -o $@ $^ $(shell $(PKG_CONFIG) --libs libuv libcjson) -lm

$(O)/bin/idle-pg-clients: $(call obj,$(IDLE_PG_SRC))
	@mkdir -p $(dir $@)
	$(CC) $(LDOPT) $(LDFLAGS) -o $@ $^ $(shell $(PKG_CONFIG) --libs libpq)

# Test runners: every tests/*/test_NAME.c defines `Suite *suite_NAME(void)`;
# the list of suites is generated (and rewritten only when it changes), so adding
# or removing a test file needs no other edit.
suite_list = for f in $(sort $(1)); do n=$$(basename $$f .c); echo "SUITE($${n\#test_})"; done
$(O)/gen/unit_suites.h: FORCE
	@mkdir -p $(dir $@)
	@{ $(call suite_list,$(UNIT_SRC)); } > $@.tmp && { cmp -s $@.tmp $@ && rm $@.tmp || mv $@.tmp $@; }
$(O)/gen/integration_suites.h: FORCE
	@mkdir -p $(dir $@)
	@{ $(call suite_list,$(ITEST_SRC)); } > $@.tmp && { cmp -s $@.tmp $@ && rm $@.tmp || mv $@.tmp $@; }
FORCE:

$(O)/obj/tests/unit/runner.o: $(O)/gen/unit_suites.h
$(O)/obj/tests/integration/runner.o: $(O)/gen/integration_suites.h
$(O)/obj/tests/%/runner.o: tests/runner.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -I$(O)/gen -DSUITES_H='"$*_suites.h"' $(ALL_CFLAGS) $(shell $(PKG_CONFIG) --cflags check) -c $< -o $@

$(O)/obj/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(shell $(PKG_CONFIG) --cflags check libpq) -MMD -MP -c $< -o $@

$(O)/bin/unit_tests: $(call obj,$(UNIT_SRC) $(UNIT_LIB_SRC)) $(O)/obj/tests/unit/runner.o $(UNIT_DEPS_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDOPT) $(LDFLAGS) -o $@ $^ $(shell $(PKG_CONFIG) --libs $(TEST_PKGS) $(PKGS)) -lm

# Integration tests drive the real daemon over TCP (through libtxscope) and the
# PostgreSQL driver directly on a uv loop; both against a real server.
ITEST_DEPS_OBJ := $(call obj,$(PROTOCOL_SRC) $(DRIVERS_SRC) daemon/log.c)
$(O)/bin/integration_tests: $(call obj,$(ITEST_SRC) $(ITEST_LIB_SRC)) $(O)/obj/tests/integration/runner.o $(ITEST_DEPS_OBJ) $(O)/lib/libtxscope.a
	@mkdir -p $(dir $@)
	$(CC) $(LDOPT) $(LDFLAGS) -o $@ $^ $(shell $(PKG_CONFIG) --libs $(TEST_PKGS) $(PKGS)) -lm

release:
	$(MAKE) FLAVOUR=release all
asan:
	$(MAKE) FLAVOUR=asan build/asan/bin/txscoped build/asan/bin/txscope build/asan/bin/txscope-bench build/asan/bin/unit_tests build/asan/bin/integration_tests

check:
	tests/scripts/deps.sh
	$(MAKE) asan
	$(MAKE) FLAVOUR=release all
	tests/scripts/check.sh

unit:
	$(MAKE) FLAVOUR=asan build/asan/bin/unit_tests
	build/asan/bin/unit_tests

demo:
	tests/scripts/deps.sh
	$(MAKE) FLAVOUR=release all
	tests/scripts/demo.sh

bench:
	tests/scripts/deps.sh pgbouncer gnuplot-nox
	$(MAKE) FLAVOUR=release all
	bench/compare

install: bin/txscoped bin/txscope
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/txscope $(DESTDIR)$(DOCDIR)
	install -m 0755 bin/txscoped bin/txscope $(DESTDIR)$(BINDIR)/
	install -m 0644 conf/txscope.ini $(DESTDIR)$(SYSCONFDIR)/txscope/txscope.ini
	install -m 0644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/

# clang's static analyzer over every source file; fails on any report.
ANALYZE_SRC = $(PROTOCOL_SRC) $(CONF_SRC) $(DRIVERS_SRC) $(wildcard daemon/*.c) $(LIBTXSCOPE_SRC) $(CLI_SRC) $(BENCH_SRC) $(IDLE_PG_SRC)
analyze:
	@out=$$(for f in $(ANALYZE_SRC); do clang --analyze -Xclang -analyzer-output=text $(CPPFLAGS) -std=c11 \
	    $(DEP_CFLAGS) -o /dev/null $$f 2>&1; done); \
	if echo "$$out" | grep -aq 'warning:'; then echo "$$out" | grep -aE 'warning:|note:'; exit 1; fi; \
	echo "analyze: no reports in $(words $(ANALYZE_SRC)) files"

FORMAT_SRC = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_SRC)
format-check:
	clang-format --dry-run --Werror $(FORMAT_SRC)

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
