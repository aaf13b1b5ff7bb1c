# kepguard: Kubewarden policies for recent Kubernetes features.
#   make        build the policies and run every suite (the verdict table)
#   make test   everything CI checks: format, lints, unit tests, modules, suites, the
#               Artifact Hub files, and a push/pull round trip through a real OCI registry
#   make publish REGISTRY=ghcr.io/you/policies [VERSION=0.1.0] [POLICIES=name] [SIGN_KEY=cosign.key]
#   make sbom   build/sbom/<policy>.spdx.json, the SPDX 2.3 SBOM of each module (docs/signing.md)
#   make bench  performance of every module against the native baseline: build/bench.json
# Tools that are missing are installed by scripts/setup.sh, the one list of them.

KEPGUARD := target/debug/kepguard
SUITES   ?=
POLICIES ?=
# Where `make publish` pushes <policy>:v<version>; empty: each policy's io.kubewarden.policy.ociUrl.
REGISTRY ?=
# If set, `make publish` refuses any policy whose crate version differs.
VERSION  ?=
# If set, `make publish` signs each pushed module with this cosign key ($COSIGN_PASSWORD).
SIGN_KEY ?=

.PHONY: all run host policies suites test fmt-check clippy unit-tests clean \
	annotate artifacthub artifacthub-check publish registry-test fuzz bench sbom

all: run

run: policies
	$(KEPGUARD) test $(SUITES)

# Every host-side crate and test target in one cargo invocation: `make` and `make test`
# share these artifacts (one feature set, one profile), so wasmtime and the OCI client
# compile once.
host:
	cargo build --workspace --all-targets

policies: host
	scripts/setup.sh wasm binaryen
	$(KEPGUARD) build $(POLICIES)

suites: policies
	$(KEPGUARD) test --junit build/suites.xml $(SUITES)

fmt-check:
	cargo fmt --all --check

clippy: host
	cargo clippy --workspace --all-targets -- -D warnings

# The harness's tests run the built modules, so the modules come first.
unit-tests: policies
	cargo test --workspace

# A longer fuzzing run than the 20,000 cases per policy of `make test`.
FUZZ_CASES ?= 1000000
fuzz:
	KEPGUARD_FUZZ_CASES=$(FUZZ_CASES) cargo test --workspace --test fuzz

# Embeds each policy's metadata (checked against its crate version) in build/annotated/<policy>.wasm.
annotate: policies
	$(KEPGUARD) annotate $(POLICIES)

# Regenerates artifacthub/<policy>/artifacthub-pkg.yml.
artifacthub: host
	$(KEPGUARD) artifacthub $(POLICIES)

# Fails when a committed Artifact Hub file is not what the generator makes.
artifacthub-check: host
	$(KEPGUARD) artifacthub --check

# The SPDX 2.3 SBOM of each module: the crates its wasm32-wasip1 build links, from cargo metadata.
sbom: host
	$(KEPGUARD) sbom $(POLICIES)

publish: annotate
	$(KEPGUARD) publish $(if $(REGISTRY),--registry $(REGISTRY)) $(if $(VERSION),--version $(VERSION)) \
		$(if $(SIGN_KEY),--sign-key $(SIGN_KEY)) $(POLICIES)

# Pushes every annotated policy to a throwaway registry on 127.0.0.1 and pulls it back.
registry-test: annotate
	scripts/setup.sh registry
	KEPGUARD=$(KEPGUARD) scripts/with-registry.sh scripts/registry-test.sh $(POLICIES)

# Performance (not part of `make test`): the modules in wasm and the same rules natively, side by
# side in one run; writes build/bench.json. Native medians come from criterion (target/criterion).
bench: policies
	rm -rf build/bench-inputs
	$(KEPGUARD) bench --write-inputs build/bench-inputs $(SUITES)
	: >build/bench-stdin
	KEPGUARD_BENCH_INPUTS=$(CURDIR)/build/bench-inputs \
		cargo bench --workspace --bench native <build/bench-stdin
	$(KEPGUARD) bench --native target/criterion --json build/bench.json $(SUITES)

test: fmt-check clippy unit-tests suites artifacthub-check registry-test

clean:
	rm -rf build
	cargo clean
