// The Mastra-free runner (@vws/sandbox-pty/runner) on a real FUSE mount: a run's output, exit code
// and change report, and an abort signal that kills the command's whole process group.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InodeFs } from '@vws/inode-fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Runner } from '../src/runner.js';

const runner = new Runner({ warm: false });
const outside = mkdtempSync(join(tmpdir(), 'vws-runner-'));
afterAll(() => {
  runner.stop();
  rmSync(outside, { recursive: true, force: true });
});

const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

describe('Runner', () => {
  it('runs a command in a FUSE mount of the engine and reports what it changed', async () => {
    const fs = new InodeFs();
    fs.writeFile('/in.txt', 'input\n');
    const r = await runner.run(fs, ['sh', '-c', 'cat in.txt; echo out > out.txt; rm in.txt; echo e >&2; exit 3']);
    expect(r).toEqual({ exitCode: 3, stdout: 'input\n', stderr: 'e\n', changes: { created: ['/out.txt'], modified: [], deleted: ['/in.txt'] } });
    expect(Buffer.from(fs.readFile('/out.txt')).toString()).toBe('out\n');
  });

  it('an abort kills the whole process group, children included', async () => {
    const fs = new InodeFs();
    const pids = join(outside, 'pids');
    const abort = new AbortController();
    const t0 = Date.now();
    const running = runner.run(fs, ['sh', '-c', `sleep 30 & echo $! > ${pids}.child; echo $$ > ${pids}; wait`], { signal: abort.signal });
    while (!(existsSync(pids) && readFileSync(pids, 'utf8').endsWith('\n'))) await new Promise((r) => setTimeout(r, 20));
    const [shell, child] = [Number(readFileSync(pids, 'utf8')), Number(readFileSync(`${pids}.child`, 'utf8'))];
    abort.abort();
    const r = await running;
    expect(r.exitCode).toBe(128 + 9);
    expect(Date.now() - t0).toBeLessThan(10_000);
    for (const pid of [shell, child]) {
      const deadline = Date.now() + 5_000;
      while (alive(pid) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
      expect(alive(pid), `pid ${pid}`).toBe(false);
    }
    // Aborted before it started: killed at once.
    const pre = new AbortController();
    pre.abort();
    expect((await runner.run(fs, ['sleep', '30'], { signal: pre.signal })).exitCode).toBe(128 + 9);
  });
});
