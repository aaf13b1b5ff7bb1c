#!/usr/bin/env bash
# Every tool that `make` and `make test` install when it is missing, named in one place.
# Each step checks first and installs only what is absent, so running it again is cheap.
#
#   wasm      the wasm32-wasip1 Rust target the policies build for, from rustup; where rustup
#             cannot download it, Debian's Rust with its std sources (rustc-web, cargo-web,
#             rust-web-src), lld and wasi-libc, so that `kepguard build` rebuilds std for the
#             target (-Zbuild-std)
#   binaryen  Debian's binaryen, for wasm-opt -O3 on each module (smaller, faster modules)
#   playground  the wasm32-unknown-unknown Rust target of the browser playground's host, from
#             rustup, and wasm-bindgen-cli (cargo install --locked) of exactly the version that
#             playground/Cargo.toml pins for the wasm-bindgen crate: the two must agree; and
#             Node (Debian's nodejs when there is none), which runs the equivalence and browser tests
#   browser   Debian's chromium and chromium-driver, for the playground's headless browser test
#   registry  Debian's docker-registry, the CNCF distribution registry, a real OCI registry
#             on 127.0.0.1 for the publishing tests (with curl and python3, which the
#             registry scripts use)
#
# Usage: scripts/setup.sh STEP...   (no step: every step)
set -euo pipefail

TARGET=wasm32-wasip1
apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then
    apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

target_works() {
  local scratch
  scratch=$(mktemp -d)
  echo '' | rustc --target "$TARGET" --crate-type lib --emit=metadata --out-dir "$scratch" - >/dev/null 2>&1
  local status=$?
  rm -rf "$scratch"
  return $status
}

setup_wasm() {
  target_works && return 0
  if rustup target add "$TARGET" && target_works; then
    return 0
  fi
  echo "setup: rustup cannot provide $TARGET; installing Debian's Rust to rebuild std for it" >&2
  if [ ! -x /usr/bin/cargo ] || [ ! -d /usr/lib/wasm32-wasi ]; then
    # One apt command, so that the versions of the compiler and its std sources match.
    apt_install rustc-web cargo-web rust-web-src lld-22 wasi-libc
  fi
}

setup_binaryen() {
  command -v wasm-opt >/dev/null 2>&1 || apt_install binaryen || \
    echo "setup: binaryen is not available: the modules will not be optimised" >&2
}

setup_playground() {
  rustup target list --installed | grep -qx wasm32-unknown-unknown || \
    rustup target add wasm32-unknown-unknown
  local version
  version=$(sed -n 's/^wasm-bindgen = "=\(.*\)"$/\1/p' "$(dirname "$0")/../playground/Cargo.toml")
  [ -n "$version" ] || { echo "setup: playground/Cargo.toml does not pin wasm-bindgen with =" >&2; exit 1; }
  if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $version" ]; then
    cargo install wasm-bindgen-cli --version "$version" --locked
  fi
  command -v node >/dev/null 2>&1 || apt_install nodejs
}

setup_browser() {
  if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    apt_install chromium chromium-driver
  fi
}

setup_registry() {
  [ -x /usr/bin/docker-registry ] || apt_install docker-registry
  command -v curl >/dev/null 2>&1 || apt_install curl
  command -v python3 >/dev/null 2>&1 || apt_install python3
}

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(wasm binaryen playground browser registry)
for step in "${steps[@]}"; do
  case "$step" in
    wasm) setup_wasm ;;
    binaryen) setup_binaryen ;;
    playground) setup_playground ;;
    browser) setup_browser ;;
    registry) setup_registry ;;
    *) echo "setup: unknown step $step (the steps: wasm binaryen playground browser registry)" >&2; exit 2 ;;
  esac
done
