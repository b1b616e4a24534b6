// After the whole suite (also when tests failed): no FUSE mount of this run may remain. Any left
// behind is detached, and the run fails loudly, naming them. Mounts served by other live processes
// (another test run on the same machine) are not ours to judge.
import { readFileSync } from 'node:fs';
import { detach, fuseMounts, type MountEntry } from '../src/stale.js';

function parentOf(pid: number): number | undefined {
  try {
    // The command name may hold spaces or parentheses: the fields after the last ')' are fixed.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** Served by this process or one of its descendants, or by a process that is gone. */
function oursOrOrphaned(m: MountEntry): boolean {
  if (m.pid === undefined) return true;
  for (let p: number | undefined = m.pid, guard = 0; p && guard < 64; guard++) {
    if (p === process.pid) return true;
    const next = parentOf(p);
    if (next === undefined) return guard === 0; // the server itself is gone
    p = next;
  }
  return false;
}

export default function setup() {
  const before = new Set(fuseMounts().map((m) => m.path));
  return async () => {
    const left = fuseMounts().filter((m) => !before.has(m.path) && oursOrOrphaned(m));
    for (const m of left) await detach(m.path);
    if (left.length) throw new Error(`the FUSE tests left mounts behind: ${left.map((m) => m.path).join(', ')}`);
  };
}
