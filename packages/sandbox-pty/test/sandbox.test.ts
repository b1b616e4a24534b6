// PtySandbox: command execution, lifecycle, processes, policy, containment, hygiene. Every suite runs
// three ways with the same assertions: no mount, an InodeFilesystem mounted at the working directory
// over FUSE, and the same in sync mode (a shadow directory, no FUSE).

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { InodeFilesystem } from '@vws/filesystem-inode';
import { CommandDeniedError, PtySandbox } from '../src/index.js';

type Mode = 'no mount' | 'fuse' | 'sync';
const sandboxes: PtySandbox[] = [];
async function make(mode: Mode, options: ConstructorParameters<typeof PtySandbox>[0] = {}): Promise<PtySandbox> {
  const sb = new PtySandbox({ ...options, ...(mode === 'sync' ? { syncMode: true } : {}) });
  sandboxes.push(sb);
  if (mode !== 'no mount') {
    await sb.mount(new InodeFilesystem(), '/');
    expect(sb.mountModes()).toEqual({ '/': mode });
  }
  return sb;
}
afterEach(async () => {
  for (const sb of sandboxes.splice(0)) await sb.destroy();
});

/** Whether any process whose command line contains `marker` is alive. */
function alive(marker: string): boolean {
  const out = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
  return out.split('\n').some((l) => l.includes(marker) && !l.includes('ps -eo'));
}

describe.each(['no mount', 'fuse', 'sync'] as const)('%s', (mode) => {
  describe('command execution', () => {
    it('keeps stdout and stderr apart and reports the exit code', async () => {
      const sb = await make(mode);
      const r = await sb.executeCommand('echo out; echo err >&2; exit 5');
      expect(r).toMatchObject({ success: false, exitCode: 5, stdout: 'out\n', stderr: 'err\n', timedOut: false });
      const ok = await sb.executeCommand('true');
      expect(ok.success).toBe(true);
    });

    it('passes args exactly, spaces and quotes included, without a shell', async () => {
      const sb = await make(mode);
      const r = await sb.executeCommand('printf', ['[%s]\\n', 'a b', "it's", '$HOME', '*']);
      expect(r.stdout).toBe("[a b]\n[it's]\n[$HOME]\n[*]\n");
    });

    it('runs in the working directory by default, relative cwd resolves inside it', async () => {
      const sb = await make(mode);
      expect((await sb.executeCommand('pwd')).stdout.trim()).toBe(sb.workingDirectory);
      await sb.executeCommand('mkdir -p sub/dir');
      expect((await sb.executeCommand('pwd', [], { cwd: 'sub/dir' })).stdout.trim()).toBe(`${sb.workingDirectory}/sub/dir`);
    });

    it('has a curated environment: HOME in the workspace, no host secrets, opt-in by name', async () => {
      process.env.SECRET_TOKEN = 'x-secret';
      process.env.VWS_OPT_IN = 'visible';
      try {
        const sb = await make(mode, { env: { GREETING: 'hello' }, inheritEnvNames: ['VWS_OPT_IN'] });
        const r = await sb.executeCommand('env');
        expect(r.stdout).not.toContain('x-secret');
        expect(r.stdout).not.toContain('SECRET_TOKEN');
        expect(r.stdout).toContain(`HOME=${sb.workingDirectory}`);
        expect(r.stdout).toContain('GREETING=hello');
        expect(r.stdout).toContain('VWS_OPT_IN=visible');
        expect(r.stdout).toMatch(/^TERM=xterm-256color$/m);
        const perCall = await sb.executeCommand('echo "$ONE"', [], { env: { ONE: '1' } });
        expect(perCall.stdout).toBe('1\n');
      } finally {
        delete process.env.SECRET_TOKEN;
        delete process.env.VWS_OPT_IN;
      }
    });

    it('a timeout kills the whole process group (grandchildren too): exit 124, timedOut', async () => {
      const sb = await make(mode, { killGraceMs: 200 });
      const marker = `vws-grandchild-${process.pid}-${Date.now()}`;
      const r = await sb.executeCommand(`bash -c 'sleep 30; : ${marker}' & sleep 30`, [], { timeout: 300 });
      expect(r.exitCode).toBe(124);
      expect(r.timedOut).toBe(true);
      expect(r.stderr).toMatch(/timed out after 300ms/);
      expect(alive(marker)).toBe(false);
    });

    it('SIGKILL follows SIGTERM for a command that ignores SIGTERM', async () => {
      const sb = await make(mode, { killGraceMs: 200 });
      const t0 = Date.now();
      const r = await sb.executeCommand("trap '' TERM; sleep 30", [], { timeout: 200 });
      expect(r.exitCode).toBe(124);
      expect(Date.now() - t0).toBeLessThan(5000);
    });

    it('an abort signal stops a running command', async () => {
      const sb = await make(mode);
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 200);
      const r = await sb.executeCommand('sleep 30', [], { abortSignal: ac.signal });
      expect(r.success).toBe(false);
      expect(r.executionTimeMs).toBeLessThan(5000);
    });

    it('streams output through callbacks and caps what it retains', async () => {
      const sb = await make(mode);
      const chunks: string[] = [];
      const errs: string[] = [];
      const r = await sb.executeCommand('for i in 1 2 3; do echo line$i; done; echo oops >&2', [], { onStdout: (d) => chunks.push(d), onStderr: (d) => errs.push(d) });
      expect(chunks.join('')).toBe('line1\nline2\nline3\n');
      expect(errs.join('')).toBe('oops\n');
      expect(r.stdout).toBe('line1\nline2\nline3\n');
      const big = await sb.executeCommand('head -c 100000 /dev/zero | tr "\\0" y', [], { maxRetainedBytes: 1000 });
      expect(big.stdout.length).toBeLessThanOrEqual(1000);
      expect(big.stdoutTruncated).toBe(true);
      expect(big.stdoutDroppedBytes).toBeGreaterThanOrEqual(99_000);
    });

    it('runs commands concurrently', async () => {
      const sb = await make(mode);
      const t0 = Date.now();
      const results = await Promise.all([1, 2, 3, 4].map((i) => sb.executeCommand(`sleep 0.5; echo ${i}`)));
      expect(results.map((r) => r.stdout.trim())).toEqual(['1', '2', '3', '4']);
      expect(Date.now() - t0).toBeLessThan(1800);
    });
  });

  describe('lifecycle', () => {
    it('start, stop, start again, destroy removes its own working directory', async () => {
      const sb = await make(mode);
      await sb._start();
      expect(sb.status).toBe('running');
      await sb._stop();
      expect(sb.status).toBe('stopped');
      expect((await sb.executeCommand('echo again')).stdout).toBe('again\n');
      const dir = sb.workingDirectory!;
      await sb._destroy();
      expect(existsSync(dir)).toBe(false);
    });

    it('destroy kills what is still running', async () => {
      const sb = new PtySandbox();
      const marker = `vws-destroy-${process.pid}-${Date.now()}`;
      const h = await sb.processes.spawn(`sleep 60; : ${marker}`);
      // spawn() resolves at the fork; bash's command line shows once it has exec'd (a moment, under load).
      for (const t0 = Date.now(); !alive(marker) && Date.now() - t0 < 5000; ) await new Promise((r) => setTimeout(r, 20));
      expect(alive(marker)).toBe(true);
      await sb._destroy();
      expect(h.exitCode).not.toBeUndefined();
      expect(alive(marker)).toBe(false);
    });

    it('bad options are a clear error at construction', () => {
      expect(() => new PtySandbox({ isolation: 'docker' } as never)).toThrow(/isolation/);
      expect(() => new PtySandbox({ nope: true } as never)).toThrow(/PtySandbox: invalid options/);
    });
  });

  describe('background processes', () => {
    it('spawn, stdin, output, wait; get and list prune finished handles', async () => {
      const sb = await make(mode);
      const h = await sb.processes.spawn('read a; read b; echo "got $a $b"; echo bye >&2');
      await h.sendStdin('one\n');
      await h.sendStdin('two\n');
      const r = await h.wait();
      expect(r.stdout).toBe('got one two\n');
      expect(r.stderr).toBe('bye\n');
      expect((await sb.processes.list()).find((p) => p.pid === h.pid)).toMatchObject({ running: false, exitCode: 0 });
      expect(await sb.processes.get(h.pid)).toBe(h);
      // Read after exit: dismissed from then on.
      expect(await sb.processes.get(h.pid)).toBeUndefined();
    });

    it('closeStdin ends input; kill stops a process; streams carry output', async () => {
      const sb = await make(mode);
      const cat = await sb.processes.spawn('cat; echo EOF-seen');
      await cat.sendStdin('hello\n');
      await cat.closeStdin();
      expect((await cat.wait()).stdout).toBe('hello\nEOF-seen\n');
      const loop = await sb.processes.spawn('while true; do echo tick; sleep 0.05; done');
      const got: string[] = [];
      loop.reader.on('data', (d) => got.push(String(d)));
      await new Promise((r) => setTimeout(r, 300));
      expect(await sb.processes.kill(loop.pid)).toBe(true);
      expect(loop.exitCode).not.toBeUndefined();
      expect(got.join('')).toContain('tick');
      expect(await sb.processes.kill(loop.pid)).toBe(false);
    });

    it('resize reaches the terminal', async () => {
      const sb = await make(mode);
      const h = await sb.processes.spawn('sleep 0.3; stty size </dev/tty');
      // stdin is a pipe (as LocalSandbox's); the terminal is stdout's, and /dev/tty.
      h.resize(100, 40);
      expect((await h.wait()).stdout.trim()).toBe('40 100');
    });
  });

  describe('policy and containment', () => {
    it('deny and allow lists refuse commands before anything runs', async () => {
      const sb = await make(mode, { deny: ['rm'], allow: ['echo', 'touch', 'rm'] });
      await expect(sb.executeCommand('rm -rf /')).rejects.toBeInstanceOf(CommandDeniedError);
      await expect(sb.executeCommand('touch', ['made'])).resolves.toMatchObject({ exitCode: 0 });
      await expect(sb.executeCommand('curl http://example.com')).rejects.toThrow(/not on the allow list/);
    });

    it('a policy callback decides per command', async () => {
      const seen: string[] = [];
      const sb = await make(mode, { policy: ({ line }) => (seen.push(line), line.includes('forbidden') ? { decision: 'deny', reason: 'no forbidden things' } : 'allow') });
      await expect(sb.executeCommand('echo forbidden')).rejects.toThrow(/no forbidden things/);
      expect((await sb.executeCommand('echo', ['fine'])).stdout).toBe('fine\n');
      expect(seen).toEqual(['echo forbidden', 'echo fine']);
    });

    it('bwrap: the host is read-only, the workspace writable, no network', async () => {
      const sb = await make(mode, { isolation: 'bwrap' });
      const r = await sb.executeCommand('touch /usr/vws-should-fail; echo rc=$?; echo data > inside.txt && cat inside.txt; cat /proc/net/dev | wc -l');
      expect(r.stdout).toMatch(/rc=1/);
      expect(r.stderr).toMatch(/Read-only file system/);
      expect(r.stdout).toContain('data\n');
      // Only the loopback interface (header lines + lo).
      expect(Number(r.stdout.trim().split('\n').at(-1))).toBe(3);
      expect(existsSync('/usr/vws-should-fail')).toBe(false);
    });
  });
});
