// Usage through the exec daemon: files created and deleted across many execs on one loaded tree
// leave `vws stats` equal to what the tree holds (the daemon once charged every file the kernel had
// looked up in an earlier exec forever: a FUSE mount's holds were never let go at unmount). And a
// vault saved with drifted counters is found by `vws doctor` and set right by `--repair` and `gc`.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InodeFs } from '@vws/inode-fs';
import { Vault } from '../src/vault-store.js';
import { run, stopDaemons } from './helpers.js';

let home: string;
beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'vws-home-'));
});
afterAll(async () => {
  await stopDaemons(home);
  rmSync(home, { recursive: true, force: true });
});

const ok = async (args: string[], env?: Record<string, string>) => {
  const r = await run(home, args, { env });
  expect(r.code, `${args.join(' ')}\n${r.stdout}${r.stderr}`).toBe(0);
  return r;
};
const stats = async (vault: string) => JSON.parse((await ok(['--json', '--vault', vault, 'stats'])).stdout) as { inodes: number; bytes: number };

describe('usage through the exec daemon', () => {
  it('equals what the tree holds after files are created and deleted across 50 execs', async () => {
    await ok(['vault', 'create', 'q']);
    // A quota the leak would break: 100 inodes, 1 MiB; every exec stays far below it.
    await ok(['--vault', 'q', 'quota', '--inodes', '100', '--bytes', '1M']);
    for (let i = 0; i < 50; i++) {
      // Each exec deletes what the one before made (kernel-known inodes of an earlier mount) and
      // makes new files, a directory and a hard link; every tenth keeps a file.
      const keep = i % 10 === 0 ? `echo kept${i} > keep${i};` : '';
      await ok(['--vault', 'q', 'exec', '--', 'sh', '-c', `rm -rf d f g; ${keep} mkdir d; head -c 40000 /dev/zero > d/big; echo ${i} > f; ln f g; cat d/big f > /dev/null`]);
    }
    const d = await stats('q');
    // What is left: root, keep0..keep40 (5), d, d/big, f (g is f's second name).
    const keptBytes = [0, 10, 20, 30, 40].reduce((n, i) => n + `kept${i}\n`.length, 0);
    expect(d).toMatchObject({ inodes: 1 + 5 + 3, bytes: keptBytes + 40000 + '49\n'.length });
    // The recount agrees, and the 100-inode quota still takes a small file.
    expect((await ok(['--vault', 'q', 'doctor'])).stdout).toMatch(/ok\s+usage: vault 'q': 9 inodes/);
    await ok(['--vault', 'q', 'write', '/three', 'abc']);
    await ok(['--vault', 'q', 'exec', '--', 'sh', '-c', 'rm -rf d f g keep*']);
    expect(await stats('q')).toEqual(expect.objectContaining({ inodes: 2, bytes: 3 }));
  }, 240_000);

  it('a vault saved with drifted counters loads with the recount: stats, doctor and gc agree with the tree', async () => {
    // A vault as a leaking daemon saved it: unlinked inodes kept (held) and charged.
    process.env.VWS_HOME = home;
    try {
      for (const name of ['drift1', 'drift2']) {
        const fs = new InodeFs();
        fs.writeFile('/live', 'x');
        fs.writeFile('/gone', Buffer.alloc(5000));
        fs.hold(fs.stat('/gone').ino);
        fs.unlink('/gone');
        Vault.create(name, fs);
      }
    } finally {
      delete process.env.VWS_HOME;
    }
    // A restore recounts usage from the tree (a snapshot's counters are not trusted): the held,
    // unlinked inode is not charged, and doctor and gc find nothing to repair.
    expect(await stats('drift1')).toMatchObject({ inodes: 2, bytes: 1 });
    const doctor = await run(home, ['--vault', 'drift1', 'doctor']);
    expect(doctor.stdout).toMatch(/ok\s+usage: vault 'drift1': 2 inodes, 1 bytes/);
    const gc = JSON.parse((await ok(['--json', '--vault', 'drift2', 'gc'])).stdout);
    expect(gc.usage).toEqual({ inodes: 2, bytes: 1, repaired: false });
    expect(await stats('drift2')).toMatchObject({ inodes: 2, bytes: 1 });
  }, 60_000);
});
