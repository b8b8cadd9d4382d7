#!/usr/bin/env bash
# Makes sure the programs leadbridge's commands need are on this machine:
# installs them with the OS package manager when it can, otherwise stops
# with one line that says what is missing.
#   scripts/deps.sh run    go, redis-server, curl
#   scripts/deps.sh test   go, redis-server, node + npm (emulator interop test),
#                          chromium (the hosted pages are checked in headless Chromium)
set -euo pipefail
need=(go redis-server curl)
[ "${1:-run}" = test ] && need+=(node npm chromium)

pkg_for() {
  case "$1" in
    redis-server) echo redis-server ;;
    curl) echo curl ;;
    node) echo nodejs ;;
    npm) echo npm ;;
    chromium) echo chromium ;;
    *) echo "" ;;
  esac
}

# The interop test's npm packages need Node.js 20 or newer; older distro
# builds (Debian 12 ships 18) are not enough.
node_ok() {
  local v
  v=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null) || return 1
  [ "$v" -ge 20 ]
}

missing=()
for cmd in "${need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
done
if [ ${#missing[@]} -eq 0 ]; then
  if [ "${1:-run}" = test ] && ! node_ok; then
    echo "Node.js $(node --version) is too old: the emulator's interop test needs Node.js 20 or newer (nodejs.org, or your OS's newer packages)." >&2
    exit 1
  fi
  exit 0
fi

if [[ " ${missing[*]} " == *" go "* ]]; then
  echo "leadbridge needs Go 1.26 or newer: install it from your OS packages or go.dev/dl, then run this again." >&2
  exit 1
fi

pkgs=()
for cmd in "${missing[@]}"; do pkgs+=("$(pkg_for "$cmd")"); done
sudo=""
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo="sudo -n"
if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || [ -n "$sudo" ]; }; then
  echo "installing ${pkgs[*]} with apt-get…" >&2
  if ! { $sudo apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${pkgs[@]}" >/dev/null; }; then
    echo "could not install ${pkgs[*]} with apt-get — run: sudo apt-get install ${pkgs[*]}, then this again." >&2
    exit 1
  fi
elif command -v brew >/dev/null 2>&1; then
  if [[ " ${missing[*]} " == *" chromium "* ]]; then
    # Homebrew's Chromium is an app bundle, not a chromium command on PATH.
    echo "missing: chromium — install Chromium and put a chromium command on PATH (Debian/Ubuntu: apt-get install chromium), then run this again." >&2
    exit 1
  fi
  for p in "${pkgs[@]}"; do [ "$p" = redis-server ] && p=redis; [ "$p" = nodejs ] && p=node; brew install "$p"; done
else
  echo "missing: ${missing[*]} — install them (Debian/Ubuntu: apt-get install ${pkgs[*]}), then run this again." >&2
  exit 1
fi
for cmd in "${missing[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || { echo "could not install $cmd — install it by hand, then run this again." >&2; exit 1; }
done
if [ "${1:-run}" = test ] && ! node_ok; then
  echo "Node.js $(node --version) is too old: the emulator's interop test needs Node.js 20 or newer (nodejs.org, or your OS's newer packages)." >&2
  exit 1
fi
