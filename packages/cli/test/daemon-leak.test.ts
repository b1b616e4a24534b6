// The exec daemon gives back what each exec took: after many execs through one daemon (files made,
// rewritten and deleted, stdin piped), its descriptors and child processes are what they were after
// the first few, and its resident memory stays within a bound. (500 execs: bench/daemon-soak.ts.)

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, stopDaemons } from './helpers.js';
import { held, type Held } from './daemon-resources.js';

let home: string;
beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'vws-home-'));
  expect((await run(home, ['vault', 'create', 'k'])).code).toBe(0);
});
afterAll(async () => {
  await stopDaemons(home);
  rmSync(home, { recursive: true, force: true });
});

describe('exec daemon resources', () => {
  it('holds no more descriptors or children after 100 execs than after 10, and memory within a bound', async () => {
    const execs = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const r = await run(home, ['--vault', 'k', 'exec', '--', 'sh', '-c', `cat > in; rm -rf d; mkdir d; head -c 2000000 /dev/urandom > d/blob${i}; echo ${i} >> log`], { input: `input ${i}` });
        expect(r.code, r.stderr).toBe(0);
      }
    };
    await execs(0, 10); // warm: the spawner's shell, the JIT, the tree cached
    const status = JSON.parse((await run(home, ['--json', 'daemon', 'status'])).stdout) as { daemons: Array<{ pid: number }> };
    const pid = status.daemons[0]!.pid;
    const at: Record<number, Held> = { 10: held(pid) };
    await execs(10, 50);
    at[50] = held(pid);
    await execs(50, 100);
    at[100] = held(pid);
    // One child: the spawner (no fusermount3 left per exec, as libfuse's auto_unmount helper was).
    // (From the sources, tsx's esbuild service is a child too: it is the loader's, not the exec's.)
    for (const n of [10, 50, 100]) expect(at[n]!.children.filter((c) => c !== 'esbuild'), `after ${n}`).toEqual(['MainThread']);
    expect(at[50]!.fds).toBe(at[10]!.fds);
    expect(at[100]!.fds).toBe(at[10]!.fds);
    // Memory: the second 50 execs add less than 48 MiB: a bound on gross leaks (each exec's 2 MB of
    // data kept would add ~100 MiB). Warming up (JIT, allocator arenas) adds ~25 MiB over the first
    // hundred execs, then it stays flat: bench/daemon-soak.ts measures 500 and 1,000. (The release of
    // each run's before-fork is tested where it lives: @vws/fuse's release-engine test.)
    expect(at[100]!.rssMiB - at[50]!.rssMiB, JSON.stringify(at)).toBeLessThan(48);
    const log = await run(home, ['--vault', 'k', 'cat', '/log']);
    expect(log.stdout.split('\n').filter(Boolean)).toHaveLength(100);
  }, 300_000);
});
