# Tabiri Homelab. `make demo` and `make test` work on a fresh Debian 12 machine with Rust
# and Python: each installs what it needs first (scripts/setup.sh, pinned versions).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
PROFILE ?= release
CARGO_PROFILE_DIR := $(if $(filter release,$(PROFILE)),release,debug)
# Terraform's implied filesystem mirror, which a plain `terraform init` searches.
MIRROR_ROOT ?= $(HOME)/.terraform.d/plugins
MIRROR_DIR := $(MIRROR_ROOT)/registry.terraform.io/tabiri/homelab/$(VERSION)/linux_amd64
ENV := source scripts/env.sh &&
FUZZ_SECONDS ?= 60


.PHONY: help setup setup-all setup-bench build lint unit acceptance acceptance-tf install-mirror docs docs-check fuzz test demo demo-stop install bench clean collection collection-docs collection-docs-check sanity lab-picture

help:
	@echo "make demo     start the local lab and apply the whole Tabiri lab in terraform/ to it"
	@echo "make test     everything: lint, unit, property, acceptance, docs check, fuzz"
	@echo "make bench    provider vs the Go null provider; modules vs ansible.builtin; Proxmox refresh; plan over SSH vs OpenSSH; Compose stacks vs docker_compose_v2 and docker compose ps; NetBird plan requests vs per-object reads; a backup job vs bare restic; the whole lab's plan and apply vs null_resources"
	@echo "make install  put the provider into ~/.terraform.d/plugins (filesystem mirror)"
	@echo "make docs     regenerate docs/ from the provider's schema"
	@echo "make collection  build the tabiri.homelab Ansible collection into dist/"
	@echo "make collection-docs  regenerate the collection's sidecar docs and action plugins"

setup:
	scripts/setup.sh core

setup-all:
	scripts/setup.sh all

setup-bench:
	scripts/setup.sh bench

build:
	cargo build --workspace --bins

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

unit: setup
	$(ENV) cargo test --workspace --exclude acceptance-tests

# The acceptance suite on two Terraforms (HOMELAB_TF picks the one the harness runs): all of
# it on 1.11, what users run; on the floor, 1.0.3, every resource's lifecycle (apply, empty
# plan, import, destroy), the protocol and the lab (the newcomer's `make demo` runs on 1.11).
# nextest runs the test binaries side by side, each test in its own process (the harness
# claims addresses, namespaces and ports per process); .config/nextest.toml starts the
# longest first.
ACC_THREADS ?= 3
FLOOR_TESTS := test(/lifecycle/) | (binary(lab) & !test(/^make_/)) | binary(plugin_handshake) \
  | binary(protocol_clients) \
  | test(=zone_model_applies_imports_and_destroys_back_to_the_seed) \
  | test(=a_job_backs_up_restores_byte_identical_and_shows_drift) \
  | test(=routes_and_targets_on_two_ssh_hosts) \
  | test(=import_records_the_hosts_key_and_the_first_plan_holds_it_to_the_configuration)
NEXTEST := cargo nextest run -p acceptance-tests --no-fail-fast --test-threads=$(ACC_THREADS) \
  --failure-output=final --status-level=slow

acceptance: setup-all build collection
	$(ENV) HOMELAB_TF=1.11 $(NEXTEST)
	$(ENV) HOMELAB_TF=1.0.3 $(NEXTEST) -E '$(FLOOR_TESTS)'

# One Terraform's half alone: `make acceptance-tf HOMELAB_TF=1.0.3` (the floor's subset).
acceptance-tf: setup-all build collection
	$(ENV) $(NEXTEST) $(if $(filter 1.0.3,$(HOMELAB_TF)),-E '$(FLOOR_TESTS)',)

# The Ansible collection: static musl module binaries for x86_64 and aarch64, packed with
# the sidecar docs and the arch-dispatch action plugins into dist/tabiri-homelab-VERSION.tar.gz.
collection: setup-all collection-docs
	$(ENV) scripts/build-collection.sh --targets "x86_64 aarch64"

# The sidecar docs modules/plugins/modules/<name>.yml and action plugins modules/plugins/action/<name>.py,
# from each module's definition in modules/src/<name>.rs. Committed: the tarball and ansible-test read them.
collection-docs:
	cargo run --quiet -p tabiri-homelab-modules --example collection-docs -- modules/plugins

# Fails when modules/plugins differs from what the module definitions generate now.
collection-docs-check:
	tmp=$$(mktemp -d) && cargo run --quiet -p tabiri-homelab-modules --example collection-docs -- $$tmp >/dev/null \
	  && diff -ru modules/plugins/modules $$tmp/modules && diff -ru modules/plugins/action $$tmp/action \
	  || { echo "modules/plugins are stale: run 'make collection-docs' and commit the result"; exit 1; }

# ansible-test sanity on the built collection (both ansible-core lines).
sanity: collection
	$(ENV) scripts/build-collection.sh --targets "x86_64 aarch64" --sanity
	$(ENV) ANSIBLE_TEST="$$ANSIBLE218_BIN/ansible-test" scripts/build-collection.sh --targets "x86_64 aarch64" --sanity

docs:
	cargo run --quiet -p terraform-provider-homelab --bin homelab-docs -- examples docs

# Fails when docs/ differs from what the schema generates now.
docs-check:
	tmp=$$(mktemp -d) && cargo run --quiet -p terraform-provider-homelab --bin homelab-docs -- examples $$tmp >/dev/null \
	  && diff -ru docs $$tmp || { echo "docs/ is stale: run 'make docs' and commit the result"; exit 1; }

fuzz: setup
	$(ENV) cd fuzz && cargo +nightly fuzz run decode_value -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048

test: setup-all lint build unit docs-check collection-docs-check acceptance sanity fuzz
	@echo "all tests passed"

install:
	cargo build --profile $(PROFILE) -p terraform-provider-homelab --bin terraform-provider-homelab
	$(MAKE) --no-print-directory install-mirror

# The filesystem-mirror half of `install`, for a binary already built (the demo test uses it
# with PROFILE=dev and its own MIRROR_ROOT).
install-mirror:
	mkdir -p $(MIRROR_DIR)
	install -m 0755 target/$(CARGO_PROFILE_DIR)/terraform-provider-homelab $(MIRROR_DIR)/terraform-provider-homelab_v$(VERSION)
	@echo "installed tabiri/homelab $(VERSION) into $(MIRROR_DIR)"

demo: setup-all install
	cargo build -p acceptance-tests --bin local-lab
	$(ENV) scripts/demo.sh up

demo-stop:
	scripts/demo.sh down

# README's picture of the lab: what the running demo drew from its state (make demo first).
lab-picture:
	cp .demo/lab.svg terraform/lab.svg

bench: setup-bench collection
	cargo build --release -p terraform-provider-homelab -p bench
	$(ENV) target/release/bench
	$(ENV) target/release/bench proxmox
	$(ENV) cargo run --release -p acceptance-tests --example ansible_bench
	$(ENV) HOMELAB_PROVIDER_DIR=$(CURDIR)/target/release cargo run --release -p acceptance-tests --example ssh_bench
	$(ENV) HOMELAB_PROVIDER_DIR=$(CURDIR)/target/release cargo run --release -p acceptance-tests --example compose_bench
	$(ENV) HOMELAB_PROVIDER_DIR=$(CURDIR)/target/release cargo run --release -p acceptance-tests --example netbird_bench
	$(ENV) cargo run --release -p acceptance-tests --example backup_bench
	$(ENV) HOMELAB_PROVIDER_DIR=$(CURDIR)/target/release cargo run --release -p acceptance-tests --example lab_bench

clean:
	scripts/demo.sh down || true
	cargo clean
