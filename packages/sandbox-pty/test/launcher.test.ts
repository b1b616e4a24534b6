// node-pty has been measured to report exit before the last output is read (DESIGN.md). The launcher
// holds the terminal's slave side open and only completes a run once the end marker it writes into
// the terminal after the command's exit (behind all the command's output) has been read back. (With
// node-pty 1.1.0 on Node 24 here, 300 raw runs lost nothing, so a test that fails without the drain
// cannot be built on this host; re-measured on 2026-11-22: raw node-pty.spawn of bash -c '<20 KiB
// write>' lost 0/100, also with both cores busy; these tests hold the guarantee itself.)

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { launch } from '../src/launcher.js';

const dir = mkdtempSync(join(tmpdir(), 'vws-launch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { PATH: '/usr/bin:/bin', HOME: dir, TERM: 'xterm', LANG: 'C.UTF-8' };
const SIZE = 20 * 1024;

async function runOnce(noDrain: boolean): Promise<number> {
  let out = '';
  const p = await launch({ command: `head -c ${SIZE} /dev/zero | tr '\\0' x`, cwd: dir, env, noDrain }, (s) => (out += s), () => {});
  await p.done;
  return out.length;
}

it('100 runs of a 20 KiB write all arrive complete', async () => {
  const lengths: number[] = [];
  for (let i = 0; i < 100; i++) lengths.push(await runOnce(false));
  expect(lengths.filter((n) => n !== SIZE)).toEqual([]);
}, 120_000);

it('the exit status is the command\'s own and the end marker never leaks into stdout', async () => {
  for (const code of [0, 1, 7, 255]) {
    let out = '';
    const p = await launch({ command: `printf 'tail-without-newline'; exit ${code}`, cwd: dir, env }, (s) => (out += s), () => {});
    expect((await p.done).exitCode).toBe(code);
    expect(out).toBe('tail-without-newline');
  }
});

it('stdout stays a terminal and stderr arrives apart, in order within each stream', async () => {
  let out = '';
  let err = '';
  const p = await launch({ command: 'for i in 1 2 3; do echo "o$i"; echo "e$i" >&2; done; test -t 1 && echo tty-out; test -t 2 || echo pipe-err', cwd: dir, env }, (s) => (out += s), (s) => (err += s));
  await p.done;
  expect(out).toBe('o1\no2\no3\ntty-out\npipe-err\n');
  expect(err).toBe('e1\ne2\ne3\n');
});

it('output bytes arrive exactly, CR and LF included, with and without stty', async () => {
  for (const interactive of [true, false]) {
    let out = '';
    const p = await launch({ command: "printf 'a\\r\\nb\\rc\\n\\rd\\n\\n'; head -c 3000 /dev/zero | tr '\\0' '\\n'", cwd: dir, env, interactive }, (s) => (out += s), () => {});
    await p.done;
    expect(out, `interactive=${interactive}`).toBe('a\r\nb\rc\n\rd\n\n' + '\n'.repeat(3000));
  }
});
