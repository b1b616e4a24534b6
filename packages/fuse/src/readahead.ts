// Larger kernel readahead for our mount: FUSE's default window is 128 KiB, so a cold sequential
// read costs a round trip per 128 KiB. With 1 MiB (the largest read request we accept) reads from the
// engine take 8x fewer round trips. Best effort: the knob is root's (sysfs), and nothing breaks
// without it.

import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';

/** The mount's device (major:minor) from /proc/self/mountinfo, which names its bdi in sysfs. */
function deviceOf(path: string): string | undefined {
  try {
    const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const f = line.split(' ');
      if (f.length > 4 && unescape(f[4]) === path) return f[2];
    }
  } catch {
    // No procfs: nothing to tune.
  }
  return undefined;
}

export async function widenReadahead(path: string, kib = 1024): Promise<boolean> {
  const dev = deviceOf(path);
  if (!dev) return false;
  try {
    await writeFile(`/sys/class/bdi/${dev}/read_ahead_kb`, String(kib));
    return true;
  } catch {
    return false;
  }
}
