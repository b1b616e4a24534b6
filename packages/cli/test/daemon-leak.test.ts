// The exec daemon gives back what each exec took: 500 execs through one daemon (stdin piped, files
// made, rewritten and deleted), its descriptors and child processes measured at 50 and at 500 are the
// same, and its resident memory stays flat (bench/daemon-soak.ts prints the same as one JSON line).

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

const N = 500;

describe('exec daemon resources', () => {
  it(`holds the same descriptors and children after ${N} execs as after 50, and its memory flat`, async () => {
    const execs = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        // Each exec: stdin read, a directory deleted and made again, a 100 KB file written, a log appended.
        const r = await run(home, ['--vault', 'k', 'exec', '--', 'sh', '-c', `cat > in; rm -rf d; mkdir d; head -c 100000 /dev/urandom > d/blob${i}; echo ${i} >> log`], { input: `input ${i}` });
        expect(r.code, r.stderr).toBe(0);
      }
    };
    await execs(0, 10); // warm: the spawner's shell, the JIT, the tree cached
    const status = JSON.parse((await run(home, ['--json', 'daemon', 'status'])).stdout) as { daemons: Array<{ pid: number }> };
    const pid = status.daemons[0]!.pid;
    const at: Record<number, Held> = {};
    await execs(10, 50);
    at[50] = held(pid);
    await execs(50, 100);
    at[100] = held(pid);
    await execs(100, N);
    at[N] = held(pid);
    const what = JSON.stringify(at);
    // One child: the spawner (no fusermount3 left per exec, as libfuse's auto_unmount helper was).
    // (From the sources, tsx's esbuild service is a child too: it is the loader's, not the exec's.)
    for (const n of [50, 100, N]) expect(at[n]!.children.filter((c) => c !== 'esbuild'), `after ${n}: ${what}`).toEqual(['MainThread']);
    expect(at[N]!.fds, what).toBe(at[50]!.fds);
    // Memory: warming up (JIT, allocator arenas) adds ~25-35 MiB over the first hundred execs, then it
    // is flat. The 400 execs after the first 100 add less than 32 MiB (each exec's 100 KB kept would
    // add 40 MiB, and a whole tree kept per exec far more); 500 add less than 80 MiB over 50.
    expect(at[N]!.rssMiB - at[100]!.rssMiB, what).toBeLessThan(32);
    expect(at[N]!.rssMiB - at[50]!.rssMiB, what).toBeLessThan(80);
    console.log(`daemon after 50/100/${N} execs: ${what}`);
    const log = await run(home, ['--vault', 'k', 'cat', '/log']);
    expect(log.stdout.split('\n').filter(Boolean)).toHaveLength(N);
    const ls = await run(home, ['--json', '--vault', 'k', 'ls', '/d']);
    expect(JSON.parse(ls.stdout).entries.map((e: { name: string }) => e.name)).toEqual([`blob${N - 1}`]);
  }, 600_000);
});
