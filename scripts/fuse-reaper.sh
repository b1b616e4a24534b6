#!/usr/bin/env bash
# Last resort after a test run: a process that deadlocked on its own FUSE mount sits in
# uninterruptible sleep and cannot even be killed until its FUSE connection is aborted. This aborts
# the connections behind vws mounts of THIS run still listed, then detaches those mounts.
# A mount is this run's when its source is "vws:PID" and process PID carries this run's
# VWS_TEST_RUN in its environment, or when PID is gone (an orphan nobody serves). Mounts served by
# anyone else (another test run, a user's `vws mount`) are never touched.
# Usage: VWS_TEST_RUN=ID fuse-reaper.sh [FILE]: mount points listed in FILE (one a line) are spared.
set -u
spare=${1:-/dev/null}
run=${VWS_TEST_RUN:-}
# mountinfo: field 3 is major:minor, field 5 the mount point; after " - " come type and source.
# Nothing here stats a mount point: that would hang on a stuck server.
candidates=$(awk -v spare="$spare" 'BEGIN { while ((getline line < spare) > 0) keep[line] = 1 }
  { for (i = 7; i <= NF; i++) if ($i == "-") break; if ($(i+1) ~ /^fuse/ && $(i+2) ~ /^vws:[0-9]+$/ && !($5 in keep)) print $3 " " $5 " " substr($(i+2), 5) }' /proc/self/mountinfo)
entries=""
while read -r majmin m pid; do
  [ -z "${m:-}" ] && continue
  if [ -d "/proc/$pid" ]; then
    # Alive: ours only when it carries this run's id.
    [ -n "$run" ] && tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx "VWS_TEST_RUN=$run" || continue
  fi
  entries+="$majmin $m"$'\n'
done <<< "$candidates"
mounts=$(echo "$entries" | awk 'NF {print $2}')
[ -z "$mounts" ] && exit 0
echo "fuse-reaper: clearing leftover vws mounts of this run: $mounts" >&2
if [ ! -e /sys/fs/fuse/connections/version ] && ! ls /sys/fs/fuse/connections/*/abort >/dev/null 2>&1; then
  mount -t fusectl none /sys/fs/fuse/connections 2>/dev/null || true
fi
echo "$entries" | while read -r majmin m; do
  [ -z "$m" ] && continue
  # The FUSE connection id is the mount's device minor number (major is 0).
  dev=${majmin#*:}
  if [ -w "/sys/fs/fuse/connections/$dev/abort" ]; then echo 1 > "/sys/fs/fuse/connections/$dev/abort"; fi
  fusermount -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
done
exit 1
