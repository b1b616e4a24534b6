#!/usr/bin/env bash
# Runs every package's tests (one package at a time: FUSE and PTY tests share the machine),
# then prints one closing line over all of them: "N passed, N failed".
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rm -rf "$root/.vws-tmp/reports"
mkdir -p "$root/.vws-tmp/reports"
# This run's id: every process it starts inherits it, and the reaper clears only mounts served by those.
export VWS_TEST_RUN="$$-$(date +%s%N)"
# vws mounts that exist before the run are someone else's (another run on this machine): spared.
awk '{ for (i = 7; i <= NF; i++) if ($i == "-") break; if ($(i+2) == "vws" || $(i+2) ~ /^vws:/) print $5 }' /proc/self/mountinfo > "$root/.vws-tmp/mounts-before"
# A hard ceiling: a test that deadlocks on its own FUSE mount must fail the run, not hang CI.
timeout --kill-after=60 2400 turbo run test --concurrency=1 --continue "$@"
status=$?
[ "$status" -eq 124 ] && echo "run-tests: the test run hit its 40-minute ceiling" >&2
# Anything this run left mounted is a failure (and is cleared, so nothing stays behind).
bash "$root/scripts/fuse-reaper.sh" "$root/.vws-tmp/mounts-before" || status=1
node "$root/scripts/test-summary.mjs" "$root/.vws-tmp/reports" || status=1
exit $status
