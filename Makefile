# pfs: the two set-up commands are `make run` and `make test`; both install what is missing.
SHELL := /bin/bash
PFS_DATA ?= $(CURDIR)/.pfs-data
PFS_MOUNT ?= $(CURDIR)/mnt
export PFS_DATA PFS_MOUNT

.PHONY: all deps system-deps test-system-deps node-deps build test unit run bench clean install uninstall

all: build

system-deps:
	bash scripts/install-system-deps.sh fuse sqlite tools

# The integration tests also run a one-node OpenStack Swift (scripts/swift-aio.sh).
test-system-deps:
	bash scripts/install-system-deps.sh fuse sqlite tools swift

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

node-deps: node_modules/.package-lock.json

deps: system-deps node-deps

build: node-deps
	node src/agent/fuse/binding/native/build.mjs --if-missing
	node src/common/native/build.mjs --if-missing
	npx tsc -p tsconfig.json
	sh scripts/make-bin.sh

# The whole suite on the machine's Node.js, then the unit tests (RPC, SQLite, object stores, the
# FUSE bindings) and a set of mounts on the other supported major version (20 or 24), which
# scripts/node-runtime.mjs takes from the npm registry into .cache/ once.
NODE_MAJOR := $(shell node -p 'process.versions.node.split(".")[0]' 2>/dev/null)
NODE_OTHER ?= $(if $(filter 24,$(NODE_MAJOR)),20,24)
NODE_OTHER_TESTS ?= dist/src/ $(addprefix dist/test/e2e/,volume-server.test.js persistence.test.js persistence-s3.test.js)
test: test-system-deps node-deps build
	node scripts/run-tests.mjs
	node scripts/run-tests.mjs --node=$(NODE_OTHER) $(NODE_OTHER_TESTS)

run: deps build
	bash scripts/run.sh

# Installs the built tree in PREFIX and mount(8)'s helper as SBINDIR/mount.pfs (mount -t pfs, fstab).
PREFIX ?= /opt/pfs
SBINDIR ?= /sbin
install: deps build
	bash scripts/install.sh install $(PREFIX) $(SBINDIR)

uninstall:
	bash scripts/install.sh uninstall $(PREFIX) $(SBINDIR)

bench: deps build
	node dist/bench/metadata/main.js

clean:
	rm -rf dist bin
