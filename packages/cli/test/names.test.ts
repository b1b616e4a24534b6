// Names are bytes through the CLI: arguments that are not UTF-8 name distinct files (argv is read
// from /proc/self/cmdline, not Node's lossy decoding), and import/export keep the exact bytes.
// Export never writes outside its target: a state with a name that could climb out (a symlink l0 to
// a host directory plus an entry 'l0/evil0') is refused by restore, and by export itself.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InodeFs, SnapshotError } from '@vws/inode-fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportHost } from '../src/tree-io.js';
import { bin, run, stopDaemons } from './helpers.js';

let home: string;
let scratch: string;
beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'vws-home-'));
  scratch = mkdtempSync(join(tmpdir(), 'vws-names-'));
  expect((await run(home, ['vault', 'create', 'x'])).code).toBe(0);
});
afterAll(async () => {
  await stopDaemons(home);
  rmSync(home, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

/** Runs a bash script with $VWS (the real binary) so arguments can hold raw bytes ($'\xff'). */
function bash(script: string): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd: home, env: { ...process.env, VWS_HOME: home, VWS: `${process.execPath} ${bin} --vault x` } });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
  });
}

const hexNames = (dir: string) => readdirSync(Buffer.from(dir), { encoding: 'buffer' }).map((n) => n.toString('hex')).sort();

describe('vws arguments and trees keep name bytes', () => {
  it("write $'\\xff' and write $'\\xfe' are two files; export writes those exact names; import reads them back", async () => {
    const r = await bash(`$VWS mkdir /b && $VWS write /b/$'\\xff' one >/dev/null && $VWS write /b/$'\\xfe' two >/dev/null && $VWS cat /b/$'\\xff' && $VWS cat /b/$'\\xfe'`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.toString()).toBe('onetwo');
    // Human output prints the names' bytes, as ls does (JSON keeps them escaped).
    const human = await bash(`$VWS ls /b`);
    expect([...human.stdout].filter((b) => b >= 0x80).sort()).toEqual([0xfe, 0xff]);
    const out = join(scratch, 'out');
    const e = await run(home, ['--vault', 'x', 'export', out, '/b']);
    expect(e.code, e.stderr).toBe(0);
    expect(hexNames(out)).toEqual(['fe', 'ff']);
    const i = await run(home, ['--vault', 'x', 'import', out, '/again']);
    expect(i.code, i.stderr).toBe(0);
    const ls = await bash(`$VWS --json ls /again`);
    expect(ls.code, ls.stderr).toBe(0);
    expect(JSON.stringify(JSON.parse(ls.stdout.toString()))).toMatch(/\\udcfe.*\\udcff|\\udcff.*\\udcfe/);
    const cat = await bash(`$VWS cat /again/$'\\xfe'`);
    expect(cat.stdout.toString()).toBe('two');
  });
});

describe('export never writes outside its target', () => {
  /** A state holding a symlink l0 -> `outside` and a raw entry named 'l0/evil0' (impossible state). */
  function crafted(outside: string): InodeFs {
    const fs = new InodeFs();
    fs.symlink(outside, '/l0');
    fs.writeFile('/evil', 'pwned');
    const inodes = fs as unknown as { inodes: { get(i: number): { entries: { set(o: number, k: string, v: number): unknown; delete(o: number, k: string): unknown } } } };
    const root = inodes.inodes.get(1);
    const ino = fs.inoOf('/evil');
    root.entries = root.entries.delete(fs.epoch, 'evil') as typeof root.entries;
    root.entries = root.entries.set(fs.epoch, 'l0/evil0', ino) as typeof root.entries;
    return fs;
  }
  const bar = { tick() {}, stop() {} } as never;

  it('restore refuses the crafted state (valid checksum)', () => {
    const outside = mkdtempSync(join(tmpdir(), 'vws-outside-'));
    try {
      const bytes = crafted(outside).snapshot();
      expect(() => InodeFs.restore(bytes)).toThrow(SnapshotError);
      expect(() => InodeFs.restore(bytes)).toThrow(/'\/'/);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('exportHost itself refuses the name and writes nothing into the linked host directory', () => {
    const outside = mkdtempSync(join(tmpdir(), 'vws-outside-'));
    const target = join(scratch, 'crafted-out');
    try {
      expect(() => exportHost(crafted(outside), '/', target, bar)).toThrow(/could leave the target/);
      expect(readdirSync(outside)).toEqual([]);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('a symlink already in the target is never followed: files and directories refuse to go through it', () => {
    const outside = mkdtempSync(join(tmpdir(), 'vws-outside-'));
    const target = join(scratch, 'pre');
    mkdirSync(target);
    try {
      symlinkSync(outside, join(target, 'd'));
      symlinkSync(join(outside, 'f'), join(target, 'f'));
      const fs = new InodeFs();
      fs.mkdir('/d');
      fs.writeFile('/d/inner', 'x');
      expect(() => exportHost(fs, '/', target, bar)).toThrow(/EEXIST/);
      const fs2 = new InodeFs();
      fs2.writeFile('/f', 'x');
      expect(() => exportHost(fs2, '/', target, bar)).toThrow(/EEXIST/);
      expect(readdirSync(outside)).toEqual([]);
      expect(existsSync(join(outside, 'f'))).toBe(false);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});
