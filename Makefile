# Doppel build: `make` → ./doppel; `make asan`; `make test`; `make fuzz`; `make run`.
CC      ?= cc
PKGS    := libuv libmicrohttpd jansson sqlite3 libpq hiredis libsodium libcurl zlib speexdsp opus ogg opusfile
CSTD    := -std=c11 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) pocketsphinx 2>/dev/null) -lwslay -lmagic \
              -lflite_cmu_us_slt -lflite_cmu_us_rms -lflite_cmu_us_awb -lflite_cmu_us_kal16 -lflite_usenglish -lflite_cmulex -lflite \
              -lstemmer -lpthread -lm
CFLAGS  ?= -O2 -g
ALL_CFLAGS = $(CSTD) $(WARN) $(CFLAGS) $(PKG_CFLAGS) -Isrc -Ibuild/gen -MMD -MP
# sphinxbase puts err.h, hash_table.h … on the include path: only its one user sees them.
PS_CFLAGS := $(patsubst -I%,-isystem %,$(shell pkg-config --cflags pocketsphinx 2>/dev/null))

SRC      := $(shell find src -name '*.c' ! -name main.c | sort)
MIGR     := $(sort $(wildcard migrations/sqlite/*.sql migrations/postgres/*.sql))
TEST_SRC := $(shell find tests/unit -name '*.c' | sort)
GEN      := build/gen/migrations_data.c
DOCS     := $(sort $(wildcard src/api/docs/*))
GEN_DOCS := build/gen/docs_assets.c

BUILD ?= build/release
OBJ      := $(SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/migrations_data.o $(BUILD)/gen/docs_assets.o
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)

.PHONY: all asan test test-unit test-api test-e2e fuzz fuzz-run run clean format format-check bench bench-ui deps check-layers

all: doppel

doppel: $(BUILD)/doppel
	cp $< $@.tmp && mv -f $@.tmp $@

$(BUILD)/doppel: $(OBJ) $(BUILD)/src/main.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/unit_tests: $(OBJ) $(TEST_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# V=1 shows whole command lines.
Q := $(if $(V),,@)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/src/providers/stt_pocketsphinx.o: ALL_CFLAGS += $(PS_CFLAGS)

$(BUILD)/gen/%.o: build/gen/%.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The SQL migrations are compiled into the binary so that one file is the whole server.
$(GEN): $(MIGR) scripts/embed-files.sh
	@mkdir -p $(dir $@)
	sh scripts/embed-files.sh migration_files store/migrations.h migrations $(MIGR) > $@.tmp && mv $@.tmp $@

# The API reference page (/api/docs) and its assets, likewise compiled in.
$(GEN_DOCS): $(DOCS) scripts/embed-files.sh
	@mkdir -p $(dir $@)
	sh scripts/embed-files.sh docs_assets api/docs.h src/api/docs $(DOCS) > $@.tmp && mv $@.tmp $@

asan:
	$(MAKE) BUILD=build/asan CC=clang CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" build/asan/doppel build/asan/unit_tests

unit: $(BUILD)/unit_tests

test-unit: $(BUILD)/unit_tests
	$(BUILD)/unit_tests

# The whole suite, as CI runs it: deps, builds, unit, fuzz replay, API on SQLite and on PostgreSQL+Redis, sanitizers.
test:
	bash scripts/test.sh

# The layers of src/ (README "Layout"): no file includes a layer above or beside its own.
check-layers:
	bash scripts/check-layers.sh

# The browser UI's end-to-end suite alone (Debian's chromium driven by playwright-core).
test-e2e: doppel
	npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error
	node --test --test-concurrency=1 tests/e2e/*.test.mjs

run:
	bash scripts/install-deps.sh build
	$(MAKE) doppel
	./doppel serve --data-dir ./data --listen 127.0.0.1:8080

FUZZ_TARGETS := $(patsubst fuzz/%.c,build/fuzz/%,$(wildcard fuzz/fuzz_*.c))
fuzz:
	$(MAKE) BUILD=build/fuzzlib CC=clang CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" $(FUZZ_TARGETS)

build/fuzz/%: fuzz/%.c $(patsubst %.c,build/fuzzlib/%.o,$(SRC)) build/fuzzlib/gen/migrations_data.o build/fuzzlib/gen/docs_assets.o
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)clang $(CSTD) $(WARN) -O1 -g -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS) -Isrc -o $@ $^ $(PKG_LIBS)

# A longer fuzzing session (FUZZ_SECONDS per target, default 300).
fuzz-run: fuzz
	for t in $(FUZZ_TARGETS); do n=$$(basename $$t); mkdir -p fuzz/corpus/$$n; \
	  $$t -max_total_time=$${FUZZ_SECONDS:-300} fuzz/corpus/$$n || exit 1; done

bench: doppel
	bash bench/http.sh

# Bytes shipped and time to interactive of the browser UI (needs tests/e2e's npm packages).
bench-ui: doppel
	npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error
	node bench/ui.mjs

FORMAT_FILES = $$(find src tests/unit fuzz bench -name '*.[ch]')
format:
	clang-format -i $(FORMAT_FILES)

# Fails on any C file that `make format` would change (run by `make test`).
format-check:
	clang-format --dry-run -Werror $(FORMAT_FILES)

clean:
	rm -rf build doppel

-include $(shell find build -name '*.d' 2>/dev/null)
