#!/usr/bin/env bash
# Runs a command beside a throwaway OCI registry: the CNCF distribution registry (Debian's
# docker-registry, installed by scripts/setup.sh registry) on 127.0.0.1, on a free port, with
# temporary storage. The command finds the registry's host:port in $KEPGUARD_REGISTRY; the
# registry is stopped and its storage removed when the command ends.
# Usage: scripts/with-registry.sh COMMAND [ARG...]
set -euo pipefail
cd "$(dirname "$0")/.."

REGISTRY_BIN=/usr/bin/docker-registry
[ -x "$REGISTRY_BIN" ] || scripts/setup.sh registry

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
mkdir -p "$scratch/storage"
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
echo "registry: $registry (storage $scratch/storage)" >&2
KEPGUARD_REGISTRY=$registry "$@"
