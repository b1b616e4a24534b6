import { readFileSync } from 'node:fs';

/**
 * Whether pid still runs. A zombie does not: it has exited, and its parent (often init, for a vws
 * process started by another one) may take seconds to reap it.
 */
export function processAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
