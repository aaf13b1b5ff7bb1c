# kepguard: Kubewarden policies for recent Kubernetes features.
#   make        build the policies and run every suite (the verdict table)
#   make test   everything CI checks: format, lints, unit tests, modules, suites, the
#               Artifact Hub files, a push/pull/sign/verify round trip through a real OCI
#               registry, `kepguard check` end to end, and the playground in Node and Chromium
#   make publish REGISTRY=ghcr.io/you/policies [VERSION=0.1.0] [POLICIES=name] [SIGN_KEY=cosign.key]
#   make sbom   build/sbom/<policy>.spdx.json, the SPDX 2.3 SBOM of each module (docs/signing.md)
#   make bench  performance of every module against the native baseline: build/bench.json;
#               and kepguard check on 1,000 objects
#   make playground  the browser playground as a static site in build/playground/
#               (`kepguard playground` serves it; docs/playground.md)
# Tools that are missing are installed by scripts/setup.sh, the one list of them.

KEPGUARD := $(or $(CARGO_TARGET_DIR),target)/debug/kepguard
# The playground's host, compiled for the browser, and the wasm-bindgen output made of it.
PLAYGROUND_WASM := $(or $(CARGO_TARGET_DIR),target)/wasm32-unknown-unknown/playground/kepguard_playground.wasm
WASM_OPT_FEATURES := --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
	--enable-nontrapping-float-to-int --enable-multivalue --enable-reference-types
SUITES   ?=
POLICIES ?=
# Where `make publish` pushes <policy>:v<version>; empty: each policy's io.kubewarden.policy.ociUrl.
REGISTRY ?=
# If set, `make publish` refuses any policy whose crate version differs.
VERSION  ?=
# If set, `make publish` signs each pushed module with this cosign key ($COSIGN_PASSWORD).
SIGN_KEY ?=

.PHONY: all run host policies suites test fmt-check clippy unit-tests clean \
	annotate artifacthub artifacthub-check publish registry-test check-test fuzz bench sbom \
	playground playground-host playground-browser-test

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

# The harness's tests run the built modules, so the modules come first; the playground's
# equivalence test runs them through the playground's host under Node.
unit-tests: policies playground-host
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

# `kepguard check` end to end: policy resources with registry:// modules, pushed to a throwaway
# registry, against the manifests of harness/tests/check (docs/check.md).
check-test: annotate
	scripts/setup.sh registry
	KEPGUARD=$(KEPGUARD) scripts/with-registry.sh scripts/check-test.sh

# Performance (not part of `make test`): the modules in wasm and the same rules natively, side by
# side in one run; writes build/bench.json. Native medians come from criterion (target/criterion).
bench: policies
	rm -rf build/bench-inputs
	$(KEPGUARD) bench --write-inputs build/bench-inputs $(SUITES)
	: >build/bench-stdin
	KEPGUARD_BENCH_INPUTS=$(CURDIR)/build/bench-inputs \
		cargo bench --workspace --bench native <build/bench-stdin
	$(KEPGUARD) bench --native target/criterion --json build/bench.json $(SUITES)
	$(MAKE) annotate
	KEPGUARD=$(KEPGUARD) scripts/check-bench.sh

# The playground's host for the browser (build/playground-pkg, optimised) and for Node
# (build/playground-node, for the equivalence test).
playground-host:
	scripts/setup.sh playground binaryen
	cargo build --target wasm32-unknown-unknown --profile playground -p kepguard-playground
	rm -rf build/playground-pkg build/playground-node
	wasm-bindgen --target web --no-typescript --out-dir build/playground-pkg $(PLAYGROUND_WASM)
	wasm-opt -Oz $(WASM_OPT_FEATURES) build/playground-pkg/kepguard_playground_bg.wasm \
		-o build/playground-pkg/kepguard_playground_bg.wasm
	wasm-bindgen --target nodejs --no-typescript --out-dir build/playground-node $(PLAYGROUND_WASM)

# The static site: the page, the host, the annotated modules and every suite case as a sample.
playground: annotate playground-host
	rm -rf build/playground
	mkdir -p build/playground/pkg build/playground/modules
	cp -r playground/site/. build/playground/
	cp build/playground-pkg/* build/playground/pkg/
	cp build/annotated/*.wasm build/playground/modules/
	$(KEPGUARD) playground --write-samples build/playground/samples.json

# Headless Chromium over WebDriver against `kepguard playground`: build/playground-screenshots/.
playground-browser-test: playground
	scripts/setup.sh browser
	node playground/tests/browser.mjs $(KEPGUARD) build/playground

test: fmt-check clippy unit-tests suites artifacthub-check registry-test check-test \
	playground-browser-test

clean:
	rm -rf build
	cargo clean
