// Warm shells (launcher.ts): the spawner starts the next non-interactive run's bash ahead of time.
// A run on a warm shell must be indistinguishable from a cold one: environment, cwd, $0, options,
// exit codes, stdout/stderr apart, timeouts and aborts that kill the whole group, and nothing left
// behind when the sandbox goes.

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { PtySandbox } from '../src/index.js';
import { buildEnv } from '../src/env.js';
import { Spawner } from '../src/spawner.js';

const sandboxes: PtySandbox[] = [];
function make(options: ConstructorParameters<typeof PtySandbox>[0] = {}): PtySandbox {
  const sb = new PtySandbox(options);
  sandboxes.push(sb);
  return sb;
}
afterEach(async () => {
  for (const sb of sandboxes.splice(0)) await sb.destroy();
});

const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));

/** Pids of processes whose environment has HOME=home (every run of a sandbox has its own HOME). */
function processesWithHome(home: string): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/environ`, 'latin1').split('\0').includes(`HOME=${home}`)) pids.push(Number(d));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return pids;
}

function alive(marker: string): boolean {
  const out = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
  return out.split('\n').some((l) => l.includes(marker) && !l.includes('ps -eo'));
}

const PROBE = 'env | sort; echo "0=$0 #=$# pwd=$(pwd) PWD=$PWD"; declare -p OLDPWD; echo "$-"; shopt -p | md5sum; trap -p; umask; cd - 2>&1; echo "rc=$?"';

describe('warm shells', () => {
  it('a run on a warm shell sees what a cold one sees (started ahead or still starting)', async () => {
    const sb = make();
    const cold = await sb.executeCommand(PROBE);
    await settle();
    const warm = await sb.executeCommand(PROBE);
    const backToBack = await sb.executeCommand(PROBE);
    expect(cold.stdout).toContain(`PWD=${sb.workingDirectory}\n`);
    expect(cold.stdout).toContain('0=bash #=0');
    expect(cold.stdout).not.toContain('__vws');
    expect(cold.stdout).not.toContain('BASH_ENV');
    // The runs after the first really are on warm shells (their bash was started with the eval).
    const onWarm = async () => (await sb.executeCommand("tr '\\0' ' ' < /proc/$$/cmdline")).stdout;
    expect(await onWarm()).toContain('__vws_cmd');
    for (const r of [warm, backToBack]) expect({ stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode }).toEqual({ stdout: cold.stdout, stderr: cold.stderr, exitCode: cold.exitCode });
  });

  it('exit codes, stdout and stderr apart, argv exactly, relative cwd, errors as bash reports them', async () => {
    const sb = make();
    await sb.executeCommand('mkdir -p sub/dir');
    await settle();
    expect(await sb.executeCommand('echo out; echo err >&2; exit 5')).toMatchObject({ exitCode: 5, stdout: 'out\n', stderr: 'err\n' });
    expect(await sb.executeCommand('printf', ['[%s]\\n', 'a b', "it's", '$HOME', '*', ''])).toMatchObject({ exitCode: 0, stdout: "[a b]\n[it's]\n[$HOME]\n[*]\n[]\n" });
    expect((await sb.executeCommand('pwd', [], { cwd: 'sub/dir' })).stdout).toBe(`${sb.workingDirectory}/sub/dir\n`);
    expect(await sb.executeCommand('vws_no_such_command')).toMatchObject({ exitCode: 127, stdout: '', stderr: 'bash: line 1: vws_no_such_command: command not found\n' });
    const syntax = await sb.executeCommand('echo never; if');
    expect(syntax.exitCode).toBe(2);
    expect(syntax.stdout).toBe('');
    expect(syntax.stderr).toMatch(/syntax error/);
    expect((await sb.executeCommand("printf 'no newline'; exit 3")).stdout).toBe('no newline');
    expect((await sb.executeCommand('cat <<EOF\nheredoc $HOME\nEOF\n')).stdout).toBe(`heredoc ${sb.workingDirectory}\n`);
    expect((await sb.executeCommand('pwd', [], { cwd: '/nonexistent/vws' })).exitCode).not.toBe(0);
  });

  it('a timeout on a warm shell kills the whole group (exit 124), an abort stops it', async () => {
    const sb = make({ killGraceMs: 200 });
    await sb.executeCommand('true');
    await settle();
    const marker = `vws-warm-grandchild-${process.pid}-${Date.now()}`;
    const r = await sb.executeCommand(`bash -c 'sleep 30; : ${marker}' & sleep 30`, [], { timeout: 300 });
    expect(r.exitCode).toBe(124);
    expect(r.timedOut).toBe(true);
    expect(alive(marker)).toBe(false);
    await settle();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const aborted = await sb.executeCommand('sleep 30', [], { abortSignal: ac.signal });
    expect(aborted.success).toBe(false);
    expect(aborted.executionTimeMs).toBeLessThan(5000);
  });

  it('a different environment runs cold, right, and the default one is warm again after', async () => {
    const sb = make();
    await sb.executeCommand('true');
    await settle();
    expect((await sb.executeCommand('echo "$ONE"', [], { env: { ONE: '1' } })).stdout).toBe('1\n');
    expect((await sb.executeCommand('echo "[$ONE]"')).stdout).toBe('[]\n');
    await settle();
    expect((await sb.executeCommand('echo "[$ONE]"')).stdout).toBe('[]\n');
  });

  it('a caller-given BASH_ENV is still read, and not by the shells the command starts unless exported', async () => {
    const sb = make();
    await sb.executeCommand("printf 'VWS_FROM_BASH_ENV=yes\\n' > rc.sh");
    const env = { BASH_ENV: `${sb.workingDirectory}/rc.sh` };
    for (let i = 0; i < 2; i++) {
      const r = await sb.executeCommand('echo "$VWS_FROM_BASH_ENV $BASH_ENV"', [], { env });
      expect(r.stdout).toBe(`yes ${sb.workingDirectory}/rc.sh\n`);
    }
  });

  it('nothing of a sandbox stays behind after destroy, warm shell included', async () => {
    const sb = new PtySandbox();
    await sb.executeCommand('true');
    await settle(300);
    const home = sb.workingDirectory!;
    expect(processesWithHome(home).length).toBeGreaterThan(0); // the warm shell
    await sb.destroy();
    const t0 = Date.now();
    while (processesWithHome(home).length && Date.now() - t0 < 3000) await settle(50);
    expect(processesWithHome(home)).toEqual([]);
  });

  it('a spawner made with warm: false starts every run cold', async () => {
    const spawner = new Spawner({ warm: false });
    try {
      const env = buildEnv('/tmp', {});
      for (let i = 0; i < 2; i++) {
        let out = '';
        const p = await spawner.launch({ command: "tr '\\0' ' ' < /proc/$$/cmdline", cwd: '/tmp', env, interactive: false }, (s) => (out += s), () => {});
        expect((await p.done).exitCode).toBe(0);
        expect(out).not.toContain('__vws_cmd');
        await settle();
      }
    } finally {
      spawner.stop();
    }
  });

  it('complete output on warm shells too: 50 runs of a 20 KiB write, and a background child does not hold a run open', async () => {
    const sb = make();
    const sizes: number[] = [];
    for (let i = 0; i < 50; i++) sizes.push((await sb.executeCommand("head -c 20480 /dev/zero | tr '\\0' x; printf end")).stdout.length);
    expect(sizes.filter((n) => n !== 20483)).toEqual([]);
    const marker = `vws-warm-bg-${process.pid}-${Date.now()}`;
    const t0 = Date.now();
    const r = await sb.executeCommand(`bash -c 'sleep 20; : ${marker}' & echo started`);
    expect(r).toMatchObject({ exitCode: 0, stdout: 'started\n' });
    expect(Date.now() - t0).toBeLessThan(1500);
    await settle(300);
    expect(alive(marker)).toBe(false);
  });
});
