// An exec whose mount is detached while its command runs (here: an outside `fusermount3 -uz` of that
// exec's own mount, found by the path the command prints) fails loudly, keeps what reached the vault,
// removes what the command then wrote into the plain host directory, and leaves no directory behind.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, start, stopDaemons } from './helpers.js';

let home: string;
let flags: string; // host files the test creates to let a command go on
beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'vws-home-'));
  flags = mkdtempSync(join(tmpdir(), 'vws-flags-'));
  expect((await run(home, ['vault', 'create', 'm'])).code).toBe(0);
});
afterAll(async () => {
  await stopDaemons(home);
  rmSync(home, { recursive: true, force: true });
  rmSync(flags, { recursive: true, force: true });
});

async function until(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const cat = async (path: string) => {
  const r = await run(home, ['--json', '--vault', 'm', 'cat', path]);
  return r.code === 0 ? (JSON.parse(r.stdout).content as string) : null;
};

describe.each([
  ['through the daemon', {}],
  ['in-process', { VWS_DAEMON: '0' }],
] as Array<[string, Record<string, string>]>)('a mount detached mid-command, %s', (how, env) => {
  it('fails the exec, keeps what reached the vault, removes what landed on the host', async () => {
    const tag = how.startsWith('through') ? 'd' : 'p';
    const flag = join(flags, tag);
    const script = [
      'echo "$PWD"',
      `echo before > ${tag}-before`,
      `while [ ! -e ${flag} ]; do sleep 0.05; done`,
      // Relative to the working directory: still the (detached) mount, so it reaches the vault.
      `echo relative > ${tag}-relative`,
      // By absolute path: the plain directory where the mount was.
      `echo late > "$HOME/${tag}-late"; mkdir "$HOME/${tag}-dir"; echo x > "$HOME/${tag}-dir/y"`,
    ].join('; ');
    const child = start(home, ['--vault', 'm', 'exec', '--', 'sh', '-c', script], { env });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d));
    child.stderr!.on('data', (d: Buffer) => (stderr += d));
    const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    await until('the command printed its mount', () => stdout.includes('\n'));
    const mountPath = stdout.split('\n')[0]!;
    expect(mountPath).toMatch(/^\/tmp\/vws-mnt-/);
    // Only this exec's own mount, by its path.
    execFileSync('fusermount3', ['-uz', mountPath], { cwd: '/' });
    writeFileSync(flag, '');
    const code = await Promise.race([closed, new Promise<'hang'>((r) => setTimeout(() => r('hang'), 30_000))]);
    expect(code, stdout + stderr).toBe(1);
    expect(stderr).toContain("vws: the vault's mount was detached while the command ran");
    expect(stderr).toContain(`3 path(s) written after it landed outside the vault and were removed: /${tag}-dir, /${tag}-dir/y, /${tag}-late`);
    expect(stderr).not.toMatch(/vws-stdin|\.sock|fifo/i);
    expect(existsSync(mountPath)).toBe(false); // no directory left on the host
    expect(await cat(`/${tag}-before`)).toBe('before\n');
    expect(await cat(`/${tag}-relative`)).toBe('relative\n');
    expect(await cat(`/${tag}-late`)).toBeNull();
    expect(await cat(`/${tag}-dir/y`)).toBeNull();
    // The vault is usable as ever.
    const next = await run(home, ['--vault', 'm', 'exec', '--', 'cat', `${tag}-before`], { env });
    expect([next.code, next.stdout]).toEqual([0, 'before\n']);
  }, 90_000);
});
