# shellcheck shell=bash
# Helpers for the node scripts: messages, dry run, step skips, files under $KUBEPROOF_ROOT.
#
# KUBEPROOF_DRY_RUN=1      commands that change the system are printed, not run ("dry-run: ...");
#                          files are still rendered (under KUBEPROOF_ROOT) and read-only checks run
# KUBEPROOF_SKIP_STEPS     space-separated step names to skip, each skip said plainly
# KUBEPROOF_ROOT           prefix for every file the scripts write or read (default: /)

ROOT=${KUBEPROOF_ROOT:-}
ROOT=${ROOT%/}
DRY_RUN=${KUBEPROOF_DRY_RUN:-0}
BIN_DIR=/opt/bin   # writable on Flatcar (/usr is read-only)

say() { echo "kubeproof-node: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# run CMD...: a command that changes the system; printed instead under KUBEPROOF_DRY_RUN=1.
run() {
  if [[ $DRY_RUN == 1 ]]; then
    say "dry-run: $*"
    return 0
  fi
  "$@"
}

# skipped STEP: whether KUBEPROOF_SKIP_STEPS names the step (and says so).
skipped() {
  local step=$1
  if [[ " ${KUBEPROOF_SKIP_STEPS:-} " == *" $step "* ]]; then
    say "SKIP step $step: listed in KUBEPROOF_SKIP_STEPS"
    return 0
  fi
  return 1
}

# path P: P under the root prefix.
path() { printf '%s%s' "$ROOT" "$1"; }

# put_file PATH MODE < content: writes the file only when its content changes (idempotent);
# sets CHANGED=1 when it wrote, CHANGED=0 when the file was already so. Errors are fatal.
CHANGED=0
put_file() {
  local target mode tmp
  target=$(path "$1"); mode=$2
  mkdir -p "$(dirname "$target")"
  tmp=$(mktemp "$target.XXXXXX")
  cat >"$tmp"
  chmod "$mode" "$tmp"
  if [[ -f $target ]] && cmp -s "$tmp" "$target"; then
    rm -f "$tmp"
    say "unchanged: $1"
    CHANGED=0
    return 0
  fi
  mv -f "$tmp" "$target"
  say "wrote: $1"
  CHANGED=1
}

# have CMD: whether a command is available.
have() { command -v "$1" >/dev/null 2>&1; }

# fetch URL DEST [CHECK]: downloads URL to DEST (under the root) unless DEST exists. CHECK is
# "published" (default: compare with URL.sha256) or "https-only" (the project publishes no
# checksum for this file: said plainly).
fetch() {
  local url=$1 dest check=${3:-published} want
  dest=$(path "$2")
  if [[ -s $dest ]]; then say "present: $2"; return 0; fi
  if [[ $DRY_RUN == 1 ]]; then say "dry-run: download $url -> $2 (check: $check)"; return 0; fi
  mkdir -p "$(dirname "$dest")"
  curl -fsSL --proto '=https' --retry 3 -o "$dest.part" "$url"
  if [[ $check == published ]]; then
    want=$(curl -fsSL --proto '=https' --retry 3 "$url.sha256" | awk '{print $1}')
    echo "$want  $dest.part" | sha256sum -c --quiet - || die "checksum mismatch for $url"
  else
    say "no published checksum for $url: its integrity rests on HTTPS only"
  fi
  mv "$dest.part" "$dest"
  say "downloaded: $2"
}

# render FILE VAR...: FILE with each ${VAR} replaced by the variable's value (pure bash).
render() {
  local file=$1 text var; shift
  text=$(<"$file")
  for var in "$@"; do text=${text//"\${$var}"/${!var}}; done
  printf '%s\n' "$text"
}
