#!/usr/bin/env bash
# Publishes and signs every annotated policy to the registry of scripts/with-registry.sh
# ($KEPGUARD_REGISTRY), then pulls each one back, checks its digest and bytes, and runs the
# pulled module against its suite. Also shows that pushing the same content again gives the
# same digest, and that an unannotated module is refused.
# Signatures (cosign's format, keys made for this run): each policy verifies with its key, by
# digest and by tag; verification fails with another key, for an unsigned module, after the tag
# is re-pointed to another module, and for a signature copied onto another digest; a missing
# key, a wrong password and a reference without a digest are refused before anything is written.
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

catalog() { curl -fsS --max-time 5 "http://$registry/v2/_catalog"; }
tags() { curl -sS --max-time 5 "http://$registry/v2/$1/tags/list"; }
# Runs a command that must fail, and checks that its error says $1.
refused() {
  local expected=$1; shift
  if "$@" >"$scratch/refused.out" 2>"$scratch/refused"; then fail "accepted: $*"; fi
  grep -q -- "$expected" "$scratch/refused" || { cat "$scratch/refused" >&2; fail "$* did not say: $expected"; }
}

# Keys for this run only: no private key is committed.
export COSIGN_PASSWORD="registry-test-$RANDOM$RANDOM"
"$KEPGUARD" generate-key-pair --output-key-prefix "$scratch/cosign" >/dev/null
COSIGN_PASSWORD=other "$KEPGUARD" generate-key-pair --output-key-prefix "$scratch/other" >/dev/null

# A key that cannot be used stops the publication before anything is pushed.
before=$(catalog)
refused "cannot read the private key" \
  "$KEPGUARD" publish --registry "$registry/kepguard/refused" --sign-key "$scratch/missing.key" "$@"
refused "wrong password" \
  env COSIGN_PASSWORD=wrong "$KEPGUARD" publish --registry "$registry/kepguard/refused" --sign-key "$scratch/cosign.key" "$@"
[ "$(catalog)" = "$before" ] || fail "a refused publication wrote to the registry: $(catalog)"
echo "a missing key and a wrong password: refused, nothing pushed"

# Every policy, through the same command as make publish SIGN_KEY=...
"$KEPGUARD" publish --registry "$registry/kepguard/policies" --sign-key "$scratch/cosign.key" "$@" \
  >"$scratch/published"
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

  # The signature, by digest and by tag, in cosign's layout.
  "$KEPGUARD" verify "$pushed" --key "$scratch/cosign.pub" >/dev/null || fail "$policy: verify by digest"
  "$KEPGUARD" verify "$repository:v$tag" --key "$scratch/cosign.pub" >/dev/null || fail "$policy: verify by tag"
  signature_tag="${digest/:/-}.sig"
  curl -fsS --max-time 5 -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -o "$scratch/signature.json" "http://$registry/v2/kepguard/policies/$policy/manifests/$signature_tag" \
    || fail "$policy: no $signature_tag"
  layer=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); [l]=m["layers"]; print(l["digest"])' "$scratch/signature.json")
  curl -fsS --max-time 5 -o "$scratch/payload.json" "http://$registry/v2/kepguard/policies/$policy/blobs/$layer"
  python3 - "$scratch/signature.json" "$scratch/payload.json" "$digest" <<'PY' || fail "$policy: not cosign's signature layout"
import base64, json, sys
manifest, payload, digest = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
[layer] = manifest["layers"]
assert layer["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json", layer
assert base64.b64decode(layer["annotations"]["dev.cosignproject.cosign/signature"]), layer
assert payload["critical"]["type"] == "cosign container image signature", payload
assert payload["critical"]["image"]["docker-manifest-digest"] == digest, payload
PY
  refused "none made with this key" "$KEPGUARD" verify "$pushed" --key "$scratch/other.pub"

  # The release tag re-pointed to another module: the signature does not follow it.
  other=$(find build/annotated -name '*.wasm' ! -name "$policy.wasm" | sort | head -n 1)
  repointed=$("$KEPGUARD" push "$other" "$repository:v$tag")
  other_digest=${repointed#*@}
  refused "is not signed: there is no" "$KEPGUARD" verify "$repository:v$tag" --key "$scratch/cosign.pub"

  # Nor does a signature copied onto the other module's digest.
  curl -fsS --max-time 5 -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary @"$scratch/signature.json" -o /dev/null \
    "http://$registry/v2/kepguard/policies/$policy/manifests/${other_digest/:/-}.sig"
  refused "holds no signature of that digest" "$KEPGUARD" verify "$repository:v$tag" --key "$scratch/cosign.pub"
  echo "$policy: signed $digest; verified by digest and tag; refused with another key, after re-pointing the tag, and with a copied signature"
  count=$((count + 1))
done <"$scratch/published"
[ "$count" -gt 0 ] || fail "nothing was published"

# An unsigned module, and signing without a digest.
first=$(head -n 1 "$scratch/published")
unsigned=$("$KEPGUARD" push "build/annotated/$(basename "${first%@*}").wasm" "$registry/kepguard/unsigned:v0")
refused "is not signed: there is no" "$KEPGUARD" verify "$registry/kepguard/unsigned:v0" --key "$scratch/cosign.pub"
tags_before=$(tags kepguard/unsigned)
refused "names no digest" "$KEPGUARD" sign "$registry/kepguard/unsigned:v0" --key "$scratch/cosign.key"
[ "$(tags kepguard/unsigned)" = "$tags_before" ] || fail "signing without a digest wrote a tag"
"$KEPGUARD" sign "$unsigned" --key "$scratch/cosign.key" >/dev/null
"$KEPGUARD" verify "$registry/kepguard/unsigned:v0" --key "$scratch/cosign.pub" >/dev/null \
  || fail "kepguard sign did not sign $unsigned"
echo "unsigned module: refused; signing by tag: refused, nothing written; kepguard sign: verified"

# An unannotated module is refused.
unannotated=$(find build -maxdepth 1 -name '*.wasm' | sort | head -n 1)
if "$KEPGUARD" push "$unannotated" "$registry/kepguard/unannotated:v0" 2>"$scratch/refused"; then
  fail "the unannotated $unannotated was pushed"
fi
grep -q "not annotated" "$scratch/refused" || { cat "$scratch/refused" >&2; fail "wrong refusal"; }
echo "unannotated $unannotated: refused"

echo "registry test: $count policies pushed, pulled and run in $((SECONDS - started)) s"
