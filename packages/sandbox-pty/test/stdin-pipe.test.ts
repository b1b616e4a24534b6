// Stdin directories left by a process killed with -9 are removed by the next one that pipes stdin:
// those of dead owners holding only their FIFO; a live owner's, or one holding anything else, stay.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { stdinPipe, sweepDeadStdinDirs } from '../src/runner.js';

const made: string[] = [];
afterAll(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A pid that was a process and is gone (a child that exited). */
function deadPid(): number {
  const r = spawnSync('sh', ['-c', 'echo $$']);
  return Number(String(r.stdout).trim());
}

function stdinDir(pid: number, withFifo: boolean, extra?: string): string {
  const dir = join(tmpdir(), `vws-stdin-${pid}-test${made.length}`);
  mkdirSync(dir);
  made.push(dir);
  if (withFifo) expect(spawnSync('mkfifo', [join(dir, 'stdin')]).status).toBe(0);
  if (extra) writeFileSync(join(dir, extra), 'not ours');
  return dir;
}

describe('stdin directories of dead owners', () => {
  it('are swept; a live owner\'s and one holding other files stay', () => {
    const dead = deadPid();
    const gone = [stdinDir(dead, true), stdinDir(dead, false)];
    const kept = [stdinDir(process.pid, true), stdinDir(dead, true, 'other')];
    const removed = sweepDeadStdinDirs();
    for (const d of gone) {
      expect(removed).toContain(d);
      expect(existsSync(d)).toBe(false);
    }
    for (const d of kept) expect(existsSync(d), d).toBe(true);
  });

  it('are named for their owner, and the first pipe of a process sweeps', () => {
    const dead = stdinDir(deadPid(), true);
    const pipe = stdinPipe(Readable.from([]));
    try {
      expect(existsSync(dead)).toBe(false);
      const fifo = pipe.wrap(['true'])[4]!;
      expect(fifo).toMatch(new RegExp(`/vws-stdin-${process.pid}-[^/]+/stdin$`));
      expect(existsSync(fifo)).toBe(true);
    } finally {
      pipe.close();
    }
  });
});
