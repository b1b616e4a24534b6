#!/usr/bin/env bash
# Last resort after a test run: a process that deadlocked on its own FUSE mount sits in
# uninterruptible sleep and cannot even be killed until its FUSE connection is aborted. This aborts
# the connections behind any vws mount still listed, then detaches those mounts. Touches only mounts
# whose source is "vws" or "vws:PID" (ours).
# Usage: fuse-reaper.sh [FILE]: mount points listed in FILE (one a line) are spared.
set -u
spare=${1:-/dev/null}
# mountinfo: field 3 is major:minor, field 5 the mount point; after " - " come type and source.
# Nothing here stats a mount point: that would hang on a stuck server.
entries=$(awk -v spare="$spare" 'BEGIN { while ((getline line < spare) > 0) keep[line] = 1 }
  { for (i = 7; i <= NF; i++) if ($i == "-") break; if ($(i+1) ~ /^fuse/ && ($(i+2) == "vws" || $(i+2) ~ /^vws:/) && !($5 in keep)) print $3 " " $5 }' /proc/self/mountinfo)
mounts=$(echo "$entries" | awk 'NF {print $2}')
[ -z "$mounts" ] && exit 0
echo "fuse-reaper: clearing leftover vws mounts: $mounts" >&2
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
