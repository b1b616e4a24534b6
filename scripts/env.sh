# Sourced, not run: puts the project's toolchain (pinned Node, pnpm) and the `vws` shim (made by
# scripts/setup.sh) first on PATH.
VWS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export VWS_NODE_VERSION=24.21.0
export VWS_PNPM_VERSION=10.34.9
export VWS_TOOLCHAIN="$VWS_ROOT/.toolchain"
export PATH="$VWS_TOOLCHAIN/bin:$VWS_TOOLCHAIN/node/bin:$VWS_TOOLCHAIN/pnpm/bin:$VWS_ROOT/node_modules/.bin:$PATH"
if [ -x "$VWS_TOOLCHAIN/node/bin/node" ]; then
  # node-gyp must build native addons (our FUSE addon, node-pty) against these headers, offline.
  export npm_config_nodedir="$VWS_TOOLCHAIN/node"
fi
