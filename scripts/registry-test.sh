#!/usr/bin/env bash
# Publishes every annotated policy to the registry of scripts/with-registry.sh
# ($KEPGUARD_REGISTRY), then pulls each one back, checks its digest and bytes, and runs the
# pulled module against its suite. Also shows that pushing the same content again gives the
# same digest, and that an unannotated module is refused.
# Usage: scripts/with-registry.sh scripts/registry-test.sh [POLICY...]   (default every
# policy; after make annotate; run by make test)
set -euo pipefail
cd "$(dirname "$0")/.."

KEPGUARD=${KEPGUARD:-target/debug/kepguard}
registry=${KEPGUARD_REGISTRY:?run me through scripts/with-registry.sh}
started=$SECONDS
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/pulled"

fail() { echo "FAIL: $*" >&2; exit 1; }

# Every policy, through the same command as make publish.
"$KEPGUARD" publish --registry "$registry/kepguard/policies" "$@" >"$scratch/published"
cat "$scratch/published"

count=0
while read -r pushed; do
  repository=${pushed%@*}
  digest=${pushed#*@}
  policy=${repository##*/}
  annotated=build/annotated/$policy.wasm
  pulled=$scratch/pulled/$policy.wasm

  # Pull by the immutable reference that push printed, and by the tag.
  [ "$("$KEPGUARD" pull "$pushed" -o "$pulled" 2>"$scratch/pull.log")" = "$pushed" ] || fail "$policy: pull by digest"
  tag=$(sed -n 's/^  io.kubewarden.policy.version: //p' "policies/$policy/metadata.yml")
  [ "$("$KEPGUARD" pull "$repository:v$tag" -o "$pulled" 2>"$scratch/pull.log")" = "$pushed" ] \
    || fail "$policy: the tag v$tag does not point at $digest"
  cmp -s "$annotated" "$pulled" || fail "$policy: the pulled module differs from $annotated"

  # Kubewarden's layout, as the registry stores it.
  curl -fsS --max-time 5 -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -o "$scratch/manifest.json" "http://$registry/v2/kepguard/policies/$policy/manifests/$digest"
  python3 - "$scratch/manifest.json" "$policy" <<'PY' || fail "$policy: wrong manifest layout"
import json, sys
manifest = json.load(open(sys.argv[1]))
assert manifest["config"]["mediaType"] == "application/vnd.wasm.config.v1+json", manifest["config"]
assert [l["mediaType"] for l in manifest["layers"]] == ["application/vnd.wasm.content.layer.v1+wasm"]
notes = manifest["annotations"]
assert notes["io.kubewarden.policy.title"] == sys.argv[2], notes
assert notes["org.opencontainers.image.source"] == notes["io.kubewarden.policy.source"], notes
assert "io.kubewarden.policy.usage" not in notes and all("\n" not in v for v in notes.values())
PY

  # The pulled module runs in the harness.
  "$KEPGUARD" test --module "$pulled" "fixtures/$policy/suite.yaml" >"$scratch/suite.log" \
    || { cat "$scratch/suite.log" >&2; fail "$policy: the pulled module fails its suite"; }
  echo "$policy: pulled back $digest, identical, suite: $(tail -n 1 "$scratch/suite.log")"

  # Same content, another tag: the same digest.
  again=$("$KEPGUARD" push "$annotated" "$repository:again")
  [ "$again" = "$pushed" ] || fail "$policy: a second push gave $again, not $pushed"
  echo "$policy: a second push of the same content gives the same digest"
  count=$((count + 1))
done <"$scratch/published"
[ "$count" -gt 0 ] || fail "nothing was published"

# An unannotated module is refused.
unannotated=$(find build -maxdepth 1 -name '*.wasm' | sort | head -n 1)
if "$KEPGUARD" push "$unannotated" "$registry/kepguard/unannotated:v0" 2>"$scratch/refused"; then
  fail "the unannotated $unannotated was pushed"
fi
grep -q "not annotated" "$scratch/refused" || { cat "$scratch/refused" >&2; fail "wrong refusal"; }
echo "unannotated $unannotated: refused"

echo "registry test: $count policies pushed, pulled and run in $((SECONDS - started)) s"
