#!/usr/bin/env bash
# make-venv.sh DIR: the project's virtual environment. A fresh Debian 12 has python3 without its venv
# module (package python3-venv): installed here with apt, the only system change besides the servers'.
set -euo pipefail
venv=${1:?usage: make-venv.sh DIR}
python=${PYTHON:-python3}
if [ -x "$venv/bin/python" ]; then
  exit 0 # made before: pip brings it up to date
fi
if [ -e "$venv" ]; then
  echo "error: $venv exists but is no virtual environment: remove it (make clean), then run make again" >&2
  exit 1
fi
if "$python" -m venv "$venv" 2>/dev/null; then
  exit 0
fi
rm -rf "$venv" # what the failed attempt just created: a directory without pip
if ! command -v apt-get >/dev/null; then
  echo "error: $python cannot create a virtual environment: install its venv module, then run make again" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
minor=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
echo "installing python${minor}-venv (apt) so that $python can create .venv" >&2
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "python${minor}-venv" >/dev/null
"$python" -m venv "$venv"
