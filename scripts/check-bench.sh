#!/usr/bin/env bash
# `kepguard check` on 1,000 objects against every policy (make bench): the four objects of
# harness/tests/check/manifests/workloads.yaml 250 times under distinct names, with each
# policy's ClusterAdmissionPolicy on its file:// annotated module. A first run fills a fresh
# cache; the warm run that follows is the figure: objects per second and the share of the time
# spent compiling or loading compiled modules.
# Usage: scripts/check-bench.sh   (after make annotate)
set -euo pipefail
cd "$(dirname "$0")/.."

KEPGUARD=${KEPGUARD:-target/debug/kepguard}
cases=harness/tests/check
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/policies"

for metadata in policies/*/metadata.yml; do
  policy=$(basename "$(dirname "$metadata")")
  settings=()
  [ -f "$cases/settings/$policy.yaml" ] && settings=(--settings "$cases/settings/$policy.yaml")
  "$KEPGUARD" manifest "$policy" --module "file://$PWD/build/annotated/$policy.wasm" "${settings[@]}" \
    >"$scratch/policies/$policy.yaml"
done
for copy in $(seq 1 250); do
  sed "s/^  name: \(.*\)$/  name: \1-$copy/" "$cases/manifests/workloads.yaml"
  echo "---"
done >"$scratch/objects.yaml"

run() {
  status=0
  "$KEPGUARD" check --cache-dir "$scratch/cache" --policies "$scratch/policies" "$scratch/objects.yaml" \
    >"$scratch/out" 2>"$scratch/err" || status=$?
  [ "$status" -le 1 ] || { cat "$scratch/err" >&2; exit 1; }
  grep '^checked ' "$scratch/err"
}
echo "cold cache: $(run)"
echo "warm cache: $(run)"
