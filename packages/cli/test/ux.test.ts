// UX of the `vws` command: a closed output pipe ends it quietly (`vws cat FILE | head -1`), for cat
// and exec alike; scripts/setup.sh leaves a `vws` on PATH (the shim scripts/env.sh puts first).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin, run, stopDaemons } from './helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
let home: string;
beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'vws-home-'));
  expect((await run(home, ['vault', 'create', 'u'])).code).toBe(0);
  const lines = Array.from({ length: 300_000 }, (_, i) => `line ${i}`).join('\n');
  expect((await run(home, ['--vault', 'u', 'write', '/big'], { input: lines })).code).toBe(0);
});
afterAll(async () => {
  await stopDaemons(home);
  rmSync(home, { recursive: true, force: true });
});

/** `vws ARGS | head -1` in bash: head's output, vws's stderr and its exit status. */
function intoHead(args: string[], env: Record<string, string> = {}) {
  const quoted = [process.execPath, bin, ...args].map((a) => `'${a}'`).join(' ');
  const r = spawnSync('bash', ['-c', `${quoted} 2>"$ERR" | head -1; echo "\${PIPESTATUS[0]}" >"$STATUS"`], {
    cwd: home,
    env: { ...process.env, VWS_HOME: home, ERR: join(home, 'err'), STATUS: join(home, 'status'), ...env },
    encoding: 'utf8',
  });
  const read = (f: string) => spawnSync('cat', [join(home, f)], { encoding: 'utf8' }).stdout;
  return { stdout: r.stdout, stderr: read('err'), status: Number(read('status')) };
}

describe('vws UX', () => {
  it.each([
    ['cat', ['--vault', 'u', 'cat', '/big'], {}],
    ['exec through the daemon', ['--vault', 'u', 'exec', '--', 'cat', 'big'], {}],
    ['exec in-process', ['--vault', 'u', 'exec', '--', 'cat', 'big'], { VWS_DAEMON: '0' }],
  ] as Array<[string, string[], Record<string, string>]>)('%s into a pipe closed early ends quietly', (_what, args, env) => {
    const r = intoHead(args, env);
    expect(r.stdout).toBe('line 0\n');
    expect(r.stderr).toBe(''); // no stack trace, no EPIPE
    expect([0, 141]).toContain(r.status);
  }, 60_000);

  it('setup leaves a vws shim that scripts/env.sh puts on PATH', () => {
    const shim = join(root, '.toolchain/bin/vws');
    expect(existsSync(shim), 'run bash scripts/setup.sh: it writes .toolchain/bin/vws').toBe(true);
    const r = spawnSync('bash', ['-c', `source '${join(root, 'scripts/env.sh')}' && cd / && command -v vws && vws --json vault list`], { env: { ...process.env, VWS_HOME: home }, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const [where, out] = r.stdout.trim().split('\n');
    expect(where).toBe(shim);
    expect(JSON.parse(out!)).toEqual({ vaults: [expect.objectContaining({ name: 'u' })] });
  });
});
