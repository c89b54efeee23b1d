# imaptap - one non-recursive Makefile.
#
#   make            build ./imaptap (release flags)
#   make check      install what is missing, build, run every test
#   make demo       private Dovecot + imaptap + a real client session, log printed
#   make bench      benchmarks, one "bench NAME VALUE UNIT" line per figure
#   make fuzz       libFuzzer targets (clang), FUZZ_SECONDS per direction
#   make format     clang-format the sources; format-check fails on a diff
#
# Each library builds with only its own flags: parser/ sees libc only, logger/
# adds jansson, proxy/ adds libevent and OpenSSL, so a wrong include fails.

CC ?= cc
CLANG ?= clang
PYTHON ?= /usr/bin/python3
BUILD ?= build
VERSION := 0.1.0

WARN := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wpointer-arith -Wcast-qual -Wformat=2
OPT ?= -O2 -g
SAN := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

PKG_JANSSON := $(shell pkg-config --cflags jansson 2>/dev/null)
LIB_JANSSON := $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson)
PKG_EVENT := $(shell pkg-config --cflags libevent_openssl libevent_pthreads openssl 2>/dev/null)
LIB_EVENT := $(shell pkg-config --libs libevent_openssl libevent_pthreads openssl 2>/dev/null \
	|| echo -levent_openssl -levent_pthreads -levent -lssl -lcrypto)
LIB_CMOCKA := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

PARSER_SRCS := parser/imap_types.c parser/imap_arena.c parser/imap_lex.c parser/imap_token.c \
	parser/imap_utf7.c parser/imap_command.c parser/imap_response.c parser/imap_sasl.c \
	parser/imap_caps.c parser/imap_relay.c parser/imap_session.c parser/imap_keepalive.c
LOGGER_SRCS := logger/utf8.c logger/jlog.c logger/jlog_sink.c logger/capture.c
# proxy/ files that need neither libevent nor OpenSSL (decode, replay) are
# also linked into tests and benchmarks
CORE_SRCS := proxy/replay.c proxy/transcript.c proxy/external.c proxy/decode.c
PROXY_SRCS := proxy/main.c proxy/options.c proxy/tls.c proxy/conn.c
# the tools people use on the log, linked in as subcommands
TOOLS_SRCS := tools/logread.c tools/sesstab.c tools/pretty.c tools/stats.c tools/report.c

PARSER_CFLAGS := -Iparser
LOGGER_CFLAGS := -Iparser -Ilogger $(PKG_JANSSON)
CORE_CFLAGS := -Iparser -Ilogger -Iproxy $(PKG_JANSSON) -DIMAPTAP_VERSION='"$(VERSION)"'
PROXY_CFLAGS := $(CORE_CFLAGS) $(PKG_EVENT)
TOOLS_CFLAGS := -Iparser -Ilogger -Itools $(PKG_JANSSON)
TEST_CFLAGS := $(CORE_CFLAGS) -Itools -Itests/unit $(shell pkg-config --cflags cmocka 2>/dev/null)

# ---- objects in two flavours: rel (release) and san (ASan + UBSan) ----
obj = $(patsubst %.c,$(BUILD)/$(1)/%.o,$(2))

define flavour
$(BUILD)/$(1)/parser/%.o: parser/%.c $(wildcard parser/*.h) | $(BUILD)/$(1)/parser
	$$(CC) $$(WARN) $(2) $$(PARSER_CFLAGS) -c $$< -o $$@
$(BUILD)/$(1)/logger/%.o: logger/%.c $(wildcard parser/*.h logger/*.h) | $(BUILD)/$(1)/logger
	$$(CC) $$(WARN) $(2) $$(LOGGER_CFLAGS) -c $$< -o $$@
$(BUILD)/$(1)/proxy/%.o: proxy/%.c $(wildcard parser/*.h logger/*.h proxy/*.h tools/*.h) | $(BUILD)/$(1)/proxy
	$$(CC) $$(WARN) $(2) $$(PROXY_CFLAGS) -Itools -c $$< -o $$@
$(BUILD)/$(1)/tools/%.o: tools/%.c $(wildcard parser/*.h logger/*.h tools/*.h) | $(BUILD)/$(1)/tools
	$$(CC) $$(WARN) $(2) $$(TOOLS_CFLAGS) -c $$< -o $$@
$(BUILD)/$(1)/tests/%.o: tests/%.c $(wildcard parser/*.h logger/*.h proxy/*.h tests/unit/*.h) | $(BUILD)/$(1)/tests/unit
	$$(CC) $$(WARN) $(2) $$(TEST_CFLAGS) -c $$< -o $$@
$(BUILD)/$(1)/libimapparse.a: $(call obj,$(1),$(PARSER_SRCS))
	rm -f $$@ && ar rcs $$@ $$^
$(BUILD)/$(1)/libjlog.a: $(call obj,$(1),$(LOGGER_SRCS))
	rm -f $$@ && ar rcs $$@ $$^
$(BUILD)/$(1)/libcore.a: $(call obj,$(1),$(CORE_SRCS))
	rm -f $$@ && ar rcs $$@ $$^
$(BUILD)/$(1)/libtools.a: $(call obj,$(1),$(TOOLS_SRCS))
	rm -f $$@ && ar rcs $$@ $$^
$(BUILD)/$(1)/parser $(BUILD)/$(1)/logger $(BUILD)/$(1)/proxy $(BUILD)/$(1)/tools $(BUILD)/$(1)/tests/unit:
	mkdir -p $$@
endef
$(eval $(call flavour,rel,$(OPT)))
$(eval $(call flavour,san,$(SAN)))

LIBS_REL := $(BUILD)/rel/libcore.a $(BUILD)/rel/libjlog.a $(BUILD)/rel/libimapparse.a
LIBS_SAN := $(BUILD)/san/libcore.a $(BUILD)/san/libjlog.a $(BUILD)/san/libimapparse.a

.PHONY: all check deps test unit golden schema-check tools-check fuzz-replay integration demo bench fuzz \
	format format-check clean
all: imaptap

imaptap: $(call obj,rel,$(PROXY_SRCS)) $(BUILD)/rel/libtools.a $(LIBS_REL)
	$(CC) $(OPT) -o $@ $^ $(LIB_JANSSON) $(LIB_EVENT) -lpthread -lm

$(BUILD)/san/imaptap: $(call obj,san,$(PROXY_SRCS)) $(BUILD)/san/libtools.a $(LIBS_SAN)
	$(CC) $(SAN) -o $@ $^ $(LIB_JANSSON) $(LIB_EVENT) -lpthread -lm

# ---- unit tests (cmocka, sanitizers) ----
UNIT_TESTS := test_lex test_token test_utf7 test_command test_response test_session \
	test_caps test_sasl test_keepalive test_utf8 test_jlog test_jlog_sink test_capture test_logread \
	test_golden
UNIT_BINS := $(addprefix $(BUILD)/san/tests/unit/,$(UNIT_TESTS))
UNIT_HELPERS := $(call obj,san,tests/unit/unit_helper.c tests/unit/relay_sim.c)

$(BUILD)/san/tests/unit/%: $(BUILD)/san/tests/unit/%.o $(UNIT_HELPERS) $(BUILD)/san/libtools.a $(LIBS_SAN)
	$(CC) $(SAN) -o $@ $^ $(LIB_CMOCKA) $(LIB_JANSSON) -lpthread -lm

deps:
	@tools/install-deps.sh build test

unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do \
		echo "== $$(basename $$t)"; \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
			$$t || fail=1; \
	done; exit $$fail

golden: $(BUILD)/san/tests/unit/test_golden
	@UBSAN_OPTIONS=halt_on_error=1 $< tests/data

# every line the logger can write, and every decoded golden transcript,
# validated against logger/schema-v1.json
$(BUILD)/san/tests/unit/jlog_samples: $(BUILD)/san/tests/unit/jlog_samples.o $(LIBS_SAN)
	$(CC) $(SAN) -o $@ $^ $(LIB_JANSSON) -lpthread -lm
schema-check: $(BUILD)/san/tests/unit/jlog_samples imaptap
	@echo "== schema: logger samples and decoded golden transcripts"
	@{ $(BUILD)/san/tests/unit/jlog_samples; ./imaptap decode tests/data/*.json; } | \
		$(PYTHON) tests/unit/schema_check.py -

# ---- the log tools: the HTML report opened in headless Chromium ----
tools-check: imaptap
	@echo "== pretty and stats: golden outputs"
	@tests/tools/run.sh ./imaptap
	@echo "== report: rendered in headless Chromium, no request leaves the page"
	@$(PYTHON) tests/tools/report_check.py --imaptap ./imaptap

# ---- fuzzing (clang libFuzzer); make check replays the corpus once ----
FUZZ_TARGETS := fuzz_c2s fuzz_s2c fuzz_session
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -Iparser
$(BUILD)/fuzz/%: tests/fuzz/%.c $(PARSER_SRCS) $(wildcard parser/*.h) tests/fuzz/fuzz_common.h
	@mkdir -p $(BUILD)/fuzz
	$(CLANG) $(FUZZ_CFLAGS) -o $@ $< $(PARSER_SRCS)

fuzz-replay: $(addprefix $(BUILD)/fuzz/,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
		echo "== $$t: corpus replay"; \
		$(BUILD)/fuzz/$$t -runs=0 tests/fuzz/corpus tests/fuzz/seeds > $(BUILD)/fuzz/$$t.log 2>&1; \
		rc=$$?; tail -n 2 $(BUILD)/fuzz/$$t.log; \
		[ $$rc -eq 0 ] || { echo "$$t: corpus replay failed (see $(BUILD)/fuzz/$$t.log)"; exit 1; }; \
	done

fuzz: $(addprefix $(BUILD)/fuzz/,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p $(BUILD)/fuzz/corpus-$$t; \
		$(BUILD)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -dict=tests/fuzz/imap.dict \
			$(BUILD)/fuzz/corpus-$$t tests/fuzz/corpus tests/fuzz/seeds || exit 1; \
	done

# ---- integration tests: real Dovecot, real clients ----
integration: imaptap
	$(PYTHON) -m unittest discover -s tests/integration -p 'test_*.py' -v

check: deps
	@$(MAKE) --no-print-directory imaptap $(UNIT_BINS) $(BUILD)/san/imaptap
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory schema-check
	@$(MAKE) --no-print-directory tools-check
	@$(MAKE) --no-print-directory fuzz-replay
	@$(MAKE) --no-print-directory integration

demo:
	@tools/install-deps.sh build demo
	@$(MAKE) -s --no-print-directory imaptap
	@$(PYTHON) tools/demo.py

bench: imaptap
	@tools/bench.sh

FORMAT_SRCS = $(wildcard parser/*.[ch] logger/*.[ch] proxy/*.[ch] tests/unit/*.[ch] tests/fuzz/*.[ch] tools/*.c)
format:
	clang-format -i $(FORMAT_SRCS)
format-check:
	@clang-format --dry-run --Werror $(FORMAT_SRCS)

clean:
	rm -rf $(BUILD) imaptap
