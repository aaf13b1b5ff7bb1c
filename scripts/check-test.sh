#!/usr/bin/env bash
# End-to-end test of `kepguard check` against the registry of scripts/with-registry.sh
# ($KEPGUARD_REGISTRY): publishes the annotated policies, writes ClusterAdmissionPolicy files
# with registry:// modules through `kepguard manifest`, and checks the manifests of
# harness/tests/check/: the exact verdict table and exit code, mutation chaining, monitor
# mode, the module and compile caches, standard input, and bad input (file and line, exit 2).
# Usage: scripts/with-registry.sh scripts/check-test.sh   (after make annotate; run by make test)
set -euo pipefail
cd "$(dirname "$0")/.."

KEPGUARD=${KEPGUARD:-target/debug/kepguard}
registry=${KEPGUARD_REGISTRY:?run me through scripts/with-registry.sh}
cases=harness/tests/check
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
KEPGUARD_CACHE="$scratch/cache"
checks=0

fail() { echo "FAIL: $*" >&2; exit 1; }

# kepguard check with a fresh-per-test cache unless the test says otherwise; the outcome in
# $scratch/out, $scratch/err and $status.
check() {
  status=0
  "$KEPGUARD" check --cache-dir "$KEPGUARD_CACHE" "$@" >"$scratch/out" 2>"$scratch/err" || status=$?
  checks=$((checks + 1))
}

expect_status() {
  [ "$status" = "$1" ] || {
    cat "$scratch/out" "$scratch/err" >&2
    fail "$2: exit $status, expected $1"
  }
}

expect_output() {
  diff -u "$1" "$scratch/out" >&2 || fail "$2: the output differs from $1"
}

expect_error() {
  grep -qF -- "$1" "$scratch/err" || { cat "$scratch/err" >&2; fail "$2: stderr lacks: $1"; }
  [ ! -s "$scratch/out" ] || { cat "$scratch/out" >&2; fail "$2: a partial report was printed"; }
}

# The policies, pushed by tag.
"$KEPGUARD" publish --registry "$registry/kepguard/policies" >"$scratch/published"
version_of() { sed -n 's/^  io.kubewarden.policy.version: //p' "policies/$1/metadata.yml"; }
module_of() { echo "registry://$registry/kepguard/policies/$1:v$(version_of "$1")"; }

# A ClusterAdmissionPolicy per policy, as a GitOps repository keeps them.
# Usage: policy DIR POLICY SETTINGS_NAME [manifest options...]
policy() {
  local dir=$1 name=$2 settings=$3
  shift 3
  mkdir -p "$scratch/$dir"
  "$KEPGUARD" manifest "$name" --module "$(module_of "$name")" \
    --settings "$cases/settings/$settings.yaml" "$@" >"$scratch/$dir/$settings.yaml"
}

# 1. The shop: four policies, a multi-document file and a List.
policy shop fsgroup-change-policy fsgroup-change-policy
policy shop nodeport-subrange nodeport-subrange
policy shop resize-limits resize-limits
policy shop sidecar-ordering sidecar-ordering
check --policies "$scratch/shop" "$cases/manifests"
expect_status 1 "shop"
expect_output "$cases/expected/shop.txt" "shop"
grep -qx "modules: 4 pulled, 0 downloaded, 0 from the module cache; 4 compiled, 0 from the compile cache ($KEPGUARD_CACHE)" "$scratch/err" \
  || { cat "$scratch/err" >&2; fail "shop: the first run should pull and compile the four modules"; }
grep -q "^policy resize-limits: registry://$registry/kepguard/policies/resize-limits:v[0-9.]* is $registry/kepguard/policies/resize-limits@sha256:[0-9a-f]\{64\}$" "$scratch/err" \
  || { cat "$scratch/err" >&2; fail "shop: the tag is not reported with its digest"; }
echo "shop: exit 1, the expected table; 4 modules pulled and compiled"

# 2. The caches: a second run pulls nothing and compiles nothing, and says the same.
check --policies "$scratch/shop" "$cases/manifests"
expect_status 1 "shop, second run"
expect_output "$cases/expected/shop.txt" "shop, second run"
grep -qx "modules: 0 pulled, 0 downloaded, 4 from the module cache; 0 compiled, 4 from the compile cache ($KEPGUARD_CACHE)" "$scratch/err" \
  || { cat "$scratch/err" >&2; fail "shop, second run: something was pulled or compiled"; }
echo "caches: the second run pulled nothing and compiled nothing"

# 3. JUnit and JSON of the same run.
check --policies "$scratch/shop" --output junit "$cases/manifests"
expect_status 1 "shop, junit"
expect_output "$cases/expected/shop.xml" "shop, junit"
check --policies "$scratch/shop" --output json "$cases/manifests"
expect_status 1 "shop, json"
python3 - "$scratch/out" <<'PY' || fail "shop, json: wrong document"
import json, sys
outcome = json.load(open(sys.argv[1]))
assert outcome["failed"] is True and outcome["objects"] == 7, outcome
assert [s["kind"] for s in outcome["skipped"]] == ["ConfigMap", "Widget"], outcome["skipped"]
rejected = {(e["object"]["kind"], e["policy"]) for e in outcome["evaluations"] if e["verdict"] == "rejected"}
assert rejected == {("StatefulSet", "resize-limits"), ("Service", "nodeport-subrange")}, rejected
assert "mutated" not in outcome
PY
echo "shop: the JUnit file and the JSON document"

# 4. Mutation chaining: fsgroup-change-policy and sidecar-ordering both mutate one Pod, then
# validating copies of both (spec.mutating: false, mutate: false settings) judge the result:
# they accept it only if they see both changes.
policy chain fsgroup-change-policy fsgroup-change-policy
policy chain sidecar-ordering sidecar-ordering
policy chain fsgroup-change-policy fsgroup-change-policy-validate
policy chain sidecar-ordering sidecar-ordering-validate
for file in "$scratch/chain/"*-validate.yaml; do
  sed -i 's/^  mutating: true$/  mutating: false/; s/^  name: \(.*\)$/  name: \1-validate/' "$file"
done
# The manifest order in the folder: the sorted file names.
mv "$scratch/chain/fsgroup-change-policy.yaml" "$scratch/chain/1-fsgroup-change-policy.yaml"
mv "$scratch/chain/sidecar-ordering.yaml" "$scratch/chain/2-sidecar-ordering.yaml"
check --policies "$scratch/chain" --show-mutated "$cases/chaining/pod.yaml"
expect_status 0 "chaining"
expect_output "$cases/expected/chaining.txt" "chaining"
# Without the mutating policies, the same validating policies reject the Pod.
check --policies "$scratch/chain/fsgroup-change-policy-validate.yaml" \
  --policies "$scratch/chain/sidecar-ordering-validate.yaml" "$cases/chaining/pod.yaml"
expect_status 1 "chaining, validating only"
[ "$(grep -c '^Pod shop/uploader .* rejected ' "$scratch/out")" = 2 ] || { cat "$scratch/out" >&2; fail "chaining: both validating policies should reject the unmutated Pod"; }
echo "chaining: both mutations applied in order, and seen by the validating policies"

# 5. Monitor mode: the rejection is reported, the exit code is 0.
policy monitor resize-limits resize-limits --mode monitor
check --policies "$scratch/monitor" "$cases/manifests/workloads.yaml"
expect_status 0 "monitor"
grep -q '^StatefulSet shop/db .* resize-limits *rejected (monitor) ' "$scratch/out" \
  || { cat "$scratch/out" >&2; fail "monitor: the rejection is not reported"; }
# A mutation in monitor mode is reported, but not applied.
policy monitor-mutation fsgroup-change-policy fsgroup-change-policy --mode monitor
check --policies "$scratch/monitor-mutation" --show-mutated "$cases/chaining/pod.yaml"
expect_status 0 "monitor, mutation"
grep -q '^Pod shop/uploader .* fsgroup-change-policy *mutated (monitor)$' "$scratch/out" \
  && grep -qx '    changed: add /spec/securityContext/fsGroupChangePolicy' "$scratch/out" \
  || { cat "$scratch/out" >&2; fail "monitor: the mutation is not reported"; }
! grep -q '^---' "$scratch/out" || { cat "$scratch/out" >&2; fail "monitor: the mutation was applied"; }
echo "monitor: the rejection is reported, exit 0; a mutation is reported and not applied"

# An AdmissionPolicy only sees its own namespace: --namespace when its metadata names none.
policy namespaced resize-limits resize-limits --type AdmissionPolicy
check --policies "$scratch/namespaced" "$cases/manifests/workloads.yaml"
expect_status 0 "AdmissionPolicy in default"
grep -qx '4 objects, 0 checked, 4 skipped; 0 accepted, 0 mutated, 0 rejected (0 in protect mode)' "$scratch/out" \
  || { cat "$scratch/out" >&2; fail "an AdmissionPolicy of namespace default judged objects of shop"; }
check --policies "$scratch/namespaced" --namespace shop "$cases/manifests/workloads.yaml"
expect_status 1 "AdmissionPolicy in shop"
grep -q '^StatefulSet shop/db .* resize-limits *rejected ' "$scratch/out" \
  || { cat "$scratch/out" >&2; fail "an AdmissionPolicy of namespace shop did not judge shop/db"; }
echo "AdmissionPolicy: only the objects of its namespace"

# 6. Standard input and file:// modules, as in `helm template ... | kepguard check -p policies -`.
mkdir -p "$scratch/local"
"$KEPGUARD" manifest resize-limits --module "file://$PWD/build/annotated/resize-limits.wasm" \
  --settings "$cases/settings/resize-limits.yaml" >"$scratch/local/resize-limits.yaml"
status=0
"$KEPGUARD" check --cache-dir "$KEPGUARD_CACHE" --policies "$scratch/local" - \
  <"$cases/manifests/workloads.yaml" >"$scratch/out" 2>"$scratch/err" || status=$?
expect_status 1 "stdin"
grep -q '^StatefulSet shop/db *<stdin>:36 *resize-limits *rejected ' "$scratch/out" \
  || { cat "$scratch/out" >&2; fail "stdin: the rejection does not name <stdin> and its line"; }
echo "stdin: read, with file:// modules"

# 7. Bad input: exit 2, an error naming the file and line, no report.
check --policies "$scratch/shop" "$cases/bad/unparsable.yaml"
expect_status 2 "unparsable YAML"
expect_error "Error: $cases/bad/unparsable.yaml:9: not valid YAML or JSON: did not find expected '-' indicator at line 9 column 6" "unparsable YAML"
check --policies "$scratch/shop" "$cases/bad/no-kind.yaml"
expect_status 2 "no kind"
expect_error "Error: $cases/bad/no-kind.yaml:6: the document has no kind" "no kind"
policy invalid fsgroup-change-policy fsgroup-change-policy-invalid
check --policies "$scratch/invalid" "$cases/manifests"
expect_status 2 "invalid settings"
expect_error "Error: $scratch/invalid/fsgroup-change-policy-invalid.yaml:1: ClusterAdmissionPolicy fsgroup-change-policy: the settings are not valid: defaultPolicy" "invalid settings"
mkdir -p "$scratch/missing"
"$KEPGUARD" manifest resize-limits --module "registry://$registry/kepguard/policies/missing:v9.9.9" \
  >"$scratch/missing/resize-limits.yaml"
check --policies "$scratch/missing" "$cases/manifests"
expect_status 2 "unfetchable module"
expect_error "Error: $scratch/missing/resize-limits.yaml:1: ClusterAdmissionPolicy resize-limits: cannot resolve registry://$registry/kepguard/policies/missing:v9.9.9" "unfetchable module"
echo "bad input: unparsable YAML, a document without kind, invalid settings and an unfetchable module each exit 2 naming the file and line"

# 8. --verify-key: a module signed with the key passes; an unsigned one, or one that is not in a
#    registry, is refused before anything is evaluated.
export COSIGN_PASSWORD="check-test-$RANDOM$RANDOM"
"$KEPGUARD" generate-key-pair --output-key-prefix "$scratch/cosign" >/dev/null
"$KEPGUARD" sign "$(grep '/sidecar-ordering@' "$scratch/published")" --key "$scratch/cosign.key" >/dev/null
policy signed sidecar-ordering sidecar-ordering
check --policies "$scratch/signed" --verify-key "$scratch/cosign.pub" "$cases/manifests"
[ "$status" != 2 ] || { cat "$scratch/err" >&2; fail "verify-key: the signed module was refused"; }
policy unsigned fsgroup-change-policy fsgroup-change-policy
check --policies "$scratch/unsigned" --verify-key "$scratch/cosign.pub" "$cases/manifests"
expect_status 2 "verify-key, unsigned"
expect_error "ClusterAdmissionPolicy fsgroup-change-policy: module $(module_of fsgroup-change-policy) fails verification" "verify-key, unsigned"
grep -qF "is not signed" "$scratch/err" || { cat "$scratch/err" >&2; fail "verify-key, unsigned: no reason"; }
mkdir -p "$scratch/local"
"$KEPGUARD" manifest sidecar-ordering --module "file://$PWD/build/annotated/sidecar-ordering.wasm" \
  >"$scratch/local/sidecar-ordering.yaml"
check --policies "$scratch/local" --verify-key "$scratch/cosign.pub" "$cases/manifests"
expect_status 2 "verify-key, file module"
expect_error "--verify-key checks cosign signatures, which only registry:// modules carry" "verify-key, file module"
echo "verify-key: the signed module runs; an unsigned one and a file:// one are refused (exit 2)"

echo "check test: $checks runs of kepguard check passed"
