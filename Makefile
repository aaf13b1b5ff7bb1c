# kepguard: Kubewarden policies for recent Kubernetes features.
#   make        build the policies and run every suite (the verdict table)
#   make test   everything CI checks: format, lints, unit tests, modules, suites

KEPGUARD := target/debug/kepguard
SUITES   ?=

.PHONY: all run policies harness suites test fmt-check clippy unit-tests clean

all: run

run: policies harness
	$(KEPGUARD) test $(SUITES)

policies:
	scripts/build-policies.sh $(POLICIES)

harness:
	cargo build -p kepguard

suites: policies harness
	$(KEPGUARD) test --junit build/suites.xml $(SUITES)

fmt-check:
	cargo fmt --all --check

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

unit-tests:
	cargo test --workspace

test: fmt-check clippy unit-tests suites

clean:
	rm -rf build
	cargo clean
