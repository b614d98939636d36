# Thin wrapper around Meson/Ninja and the test runner. The real build lives in
# meson.build; this file only strings the steps together.
#
#   make run    build, then run pbxd in the foreground with ./data as data dir
#               (the web portal at http(s)://HOST:8887/)
#   make test   build (plain and ASan/UBSan), then run every test
#   make clean  remove the build directories and web/dist

MESON ?= meson
NINJA ?= ninja
DATA_DIR ?= data

.PHONY: all deps build build-asan web run run-prepare test clean

all: build

deps:
	tools/install-deps.sh

build: deps web
	@if [ ! -f build/build.ninja ]; then $(MESON) setup build; fi
	$(NINJA) -C build
	ln -sf tools/pbxctl/pbxctl build/pbxctl

# The web portal (web/ -> web/dist/, served by pbxd at /): npm ci when the
# lockfile changed, then the TypeScript check and esbuild (docs/web.md).
web: deps
	tools/build-web.sh

build-asan: deps
	@if [ ! -f build-asan/build.ninja ]; then \
		$(MESON) setup build-asan -Db_sanitize=address,undefined -Db_lundef=false; fi
	$(NINJA) -C build-asan

# Hook: everything pbxd's data dir needs before the first start (creating the
# database, a first tenant...) goes here, and must be idempotent.
run-prepare: build
	mkdir -p $(DATA_DIR)

run: deps build run-prepare
	exec build/pbxd --data-dir=$(DATA_DIR)

test: deps build build-asan
	tools/run-tests.sh

clean:
	rm -rf build build-asan web/dist
