#!/usr/bin/env bash
# Installs the local rehearsal's servers: Debian's redis-server (source) and valkey-server 8.0 from
# bookworm-backports (target). Idempotent: does nothing when both are already on PATH.
set -euo pipefail
have() { command -v "$1" >/dev/null 2>&1; }
if have redis-server && have valkey-server && have redis-cli; then
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
# Add bookworm-backports with the same mirror as the machine's own bookworm line.
if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  mirror=$(grep -rhs -E '^(URIs:|deb )' /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list 2>/dev/null \
    | grep -v security | head -n1 | sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//; s/[[:space:]].*$//' || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  echo "deb $mirror bookworm-backports main" | $sudo tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends redis-server redis-tools >/dev/null
$sudo apt-get install -y -qq --no-install-recommends -t bookworm-backports valkey-server valkey-tools >/dev/null
# Debian starts packaged services at install; the rehearsal runs its own processes on free ports.
for svc in redis-server valkey-server; do
  $sudo systemctl disable --now "$svc" >/dev/null 2>&1 || $sudo service "$svc" stop >/dev/null 2>&1 || true
done
redis-server --version
valkey-server --version
