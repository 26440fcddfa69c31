#!/usr/bin/env bash
# Makes the project's virtual environment VENV from PYTHON (3.11 or later), so the README's
# commands work on a distribution's own Python (PEP 668 forbids installing into it), a pyenv
# one and in CI alike. Where Debian ships Python without its venv module, installs it first.
# Usage: venv.sh PYTHON VENV
set -euo pipefail
python=$1 venv=$2
say() { echo "kubeproof: $*" >&2; }

command -v "$python" >/dev/null ||
  { say "$python not found: install Python 3.11 or later, or run make PYTHON=/path/to/python3"; exit 1; }
version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
  { say "$python is Python $version; kubeproof needs 3.11 or later: run make PYTHON=/path/to/python3.11"; exit 1; }
if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
  if command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
    say "installing python$version-venv (Debian ships Python's venv module apart)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python$version-venv" >/dev/null
  else
    say "$python has no venv module: install it (Debian, Ubuntu: apt-get install python$version-venv) and run again"
    exit 1
  fi
fi
say "creating the project's virtual environment $venv (Python $version from $python)"
rm -rf "$venv"
"$python" -m venv "$venv"
