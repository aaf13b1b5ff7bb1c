#!/usr/bin/env bash
# Publishes every annotated policy to a real OCI registry (the CNCF distribution registry,
# Debian's docker-registry package) on 127.0.0.1, then pulls each one back, checks its digest
# and bytes, and runs the pulled module against its suite. Also shows that pushing the same
# content again gives the same digest, and that an unannotated module is refused.
# Usage: scripts/registry-test.sh [POLICY...]   (default every policy; after make annotate;
# run by make test)
set -euo pipefail
cd "$(dirname "$0")/.."

KEPGUARD=${KEPGUARD:-target/debug/kepguard}
REGISTRY_BIN=/usr/bin/docker-registry
started=$SECONDS

if [ ! -x "$REGISTRY_BIN" ]; then
  echo "installing Debian's docker-registry (the CNCF distribution registry)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry
fi

scratch=$(mktemp -d)
registry_pid=
cleanup() {
  if [ -n "$registry_pid" ]; then
    kill "$registry_pid" 2>"$scratch/kill.log" || true
    wait "$registry_pid" 2>"$scratch/wait.log" || true
  fi
  rm -rf "$scratch"
}
trap cleanup EXIT

# A free loopback port, chosen by the kernel.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
registry="127.0.0.1:$port"
mkdir -p "$scratch/storage" "$scratch/pulled"
cat >"$scratch/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $scratch/storage
  delete:
    enabled: true
http:
  addr: $registry
EOF
"$REGISTRY_BIN" serve "$scratch/config.yml" >"$scratch/registry.log" 2>&1 &
registry_pid=$!

# Wait at most 20 s for the registry to answer.
for _ in $(seq 100); do
  if curl -fsS --max-time 1 -o "$scratch/v2.json" "http://$registry/v2/"; then
    break
  fi
  if ! kill -0 "$registry_pid" 2>"$scratch/kill.log"; then
    echo "the registry exited:" >&2
    cat "$scratch/registry.log" >&2
    exit 1
  fi
  sleep 0.2
done
curl -fsS --max-time 2 -o "$scratch/v2.json" "http://$registry/v2/" || {
  echo "the registry at $registry did not answer within 20 s" >&2
  cat "$scratch/registry.log" >&2
  exit 1
}
echo "registry: $registry (storage $scratch/storage)"

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
