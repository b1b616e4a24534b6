#!/usr/bin/env bash
# Runs the vws demo after provisioning the toolchain and dependencies.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
source "$root/scripts/env.sh"
cd "$root"
exec pnpm -s demo "$@"
