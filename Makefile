# Chaperone in C — entry points.  Everything goes through CMake; these targets
# add the steps a fresh Debian machine needs (packages, real services).
#
#   make          build (build/)
#   make test     install what is missing, build, start Kafka + MariaDB +
#                 PostgreSQL + Redis, run every test (unit, ASan+UBSan, fuzz,
#                 integration, e2e); ends with CTest's summary
#   make demo     the whole pipeline in one command on embedded defaults
#   make bench    optimised build, benchmarks as "bench: NAME ratio=..." lines
#   make install  install under PREFIX (/usr/local), honouring DESTDIR
#   make deb      Debian packages (libchaperone0, libchaperone-dev, chaperone)
#                 in build/deb/
#   make docs     regenerate docs/configuration.md from the property table
#   make format   clang-format the sources in place

BUILD  ?= build
JOBS   ?= $(shell nproc)
PREFIX ?= /usr/local

.PHONY: all build deps test demo bench docs format clean install deb

all: build

deps:
	@./scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

test: deps
	@./scripts/test.sh

demo: build
	@./scripts/demo.sh $(BUILD)

bench: deps
	@./scripts/bench.sh

install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

deb: build
	@cd $(BUILD) && cpack -G DEB -B deb >/dev/null && ls -1 deb/*.deb

docs: build
	@$(BUILD)/confdoc > docs/configuration.md

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz build-bench
