#!/usr/bin/env bash
# The whole test suite: provisions the toolchain, type-checks, runs every test.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
source "$root/scripts/env.sh"
cd "$root"
pnpm -s typecheck
pnpm -s test
