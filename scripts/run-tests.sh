#!/usr/bin/env bash
# Runs every package's tests (one package at a time: FUSE and PTY tests share the machine),
# then prints one closing line over all of them: "N passed, N failed".
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rm -rf "$root/.vws-tmp/reports"
mkdir -p "$root/.vws-tmp/reports"
turbo run test --concurrency=1 --continue "$@"
status=$?
node "$root/scripts/test-summary.mjs" "$root/.vws-tmp/reports" || status=1
exit $status
