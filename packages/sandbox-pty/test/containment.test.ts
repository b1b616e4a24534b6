// Containment, tried as an escaping command would: each test runs the escape for real and fails if it
// works. Under bubblewrap: no capabilities (no remount), no host process visible (no write through
// /proc/PID/root, no other process's environment), $VWS_HOME, the project, other workspaces and the
// host's secrets hidden, denied programs unrunnable under any spelling. In every mode: nothing a
// command starts outlives it (nohup, setsid, double forks), and the deny list matches the programs a
// command line runs, by name and resolved executable.

import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { InodeFilesystem } from '@vws/filesystem-inode';
import { CommandDeniedError, PtySandbox } from '../src/index.js';
import { reapsExactly } from '../src/reaper.js';
import { launch } from '../src/launcher.js';
import { programsOf } from '../src/policy.js';

const sandboxes: PtySandbox[] = [];
const cleanups: Array<() => void> = [];
const markers: string[] = [];

async function make(options: ConstructorParameters<typeof PtySandbox>[0] = {}, mount: 'fuse' | 'sync' | 'none' = 'fuse'): Promise<PtySandbox> {
  const sb = new PtySandbox({ ...options, ...(mount === 'sync' ? { syncMode: true } : {}) });
  sandboxes.push(sb);
  if (mount !== 'none') {
    await sb.mount(new InodeFilesystem(), '/');
    expect(sb.mountModes()).toEqual({ '/': mount });
  } else await sb.start();
  return sb;
}

/** A unique string to put in the argv of processes a test starts (exec -a), to find them in /proc. */
function marker(): string {
  const m = `vws-contain-${randomBytes(6).toString('hex')}`;
  markers.push(m);
  return m;
}

/** Pids of live processes named by `m` (zombies have no command line). */
function survivors(m: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      // argv[0] (set with exec -a): not a shell or bwrap whose script merely mentions it.
      if (readFileSync(`/proc/${e}/cmdline`, 'latin1').startsWith(m)) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

/** Survivors once the kernel has had a moment (a SIGKILLed process takes a little while to go). */
async function survivorsAfter(m: string, ms = 2000): Promise<number[]> {
  const t0 = Date.now();
  while (survivors(m).length && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 20));
  return survivors(m);
}

afterEach(async () => {
  for (const sb of sandboxes.splice(0)) await sb.destroy();
  for (const c of cleanups.splice(0)) c();
  // A failed test may have left its own processes: only those (by marker) are killed.
  for (const m of markers.splice(0))
    for (const pid of survivors(m)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
});

/** Starts the three ways out: nohup, setsid, and a double-forked daemon, each named by the marker. */
const escapes = (m: string) =>
  [
    `nohup bash -c 'exec -a ${m}-nohup sleep 1000' >/dev/null 2>&1 &`,
    `setsid bash -c 'exec -a ${m}-setsid sleep 1000' >/dev/null 2>&1 &`,
    `( ( setsid bash -c 'exec -a ${m}-daemon sleep 1000' </dev/null >/dev/null 2>&1 & ) & )`,
    // Give them a moment to be started (and renamed) before the command returns.
    `for i in $(seq 50); do [ "$(pgrep -fc ^${m})" -ge 3 ] && break; sleep 0.02; done; pgrep -fc ^${m}`,
  ].join('\n');

describe("isolation 'bwrap'", () => {
  it('drops every capability: CapEff is 0 and remounting the host writable fails', async () => {
    const sb = await make({ isolation: 'bwrap' });
    const r = await sb.executeCommand('grep CapEff /proc/self/status; bash -c "grep CapEff /proc/self/status"; mount -o remount,rw,bind / ; echo mount=$?; touch /usr/vws-remount-escape; echo touch=$?');
    expect(r.stdout).toMatch(/CapEff:\s+0000000000000000\nCapEff:\s+0000000000000000\n/);
    expect(r.stdout).toMatch(/mount=(?!0)\d+/);
    expect(r.stdout).toMatch(/touch=(?!0)\d+/);
    expect(existsSync('/usr/vws-remount-escape')).toBe(false);
  });

  it('runs in a session of its own: stdout is still a terminal, but there is no controlling terminal to reach', async () => {
    const sb = await make({ isolation: 'bwrap' });
    const r = await sb.executeCommand('[ -t 1 ] && echo stdout-is-a-tty; (: </dev/tty) 2>/dev/null; echo tty=$?; ps -o sid= -p $$ | tr -d " "; echo $$');
    expect(r.stdout).toContain('stdout-is-a-tty\n');
    expect(r.stdout).toMatch(/tty=(?!0)\d+/);
    // The session is the namespace's own, led by its init (pid 1), not ours.
    const [sid, pid] = r.stdout.trim().split('\n').slice(-2);
    expect([sid, pid]).toEqual(['1', '2']);
  });

  it('has its own PID namespace: no host process visible, no write through /proc/PID/root', async () => {
    const sb = await make({ isolation: 'bwrap' });
    const target = join('/var/tmp', `vws-proc-root-escape-${randomBytes(4).toString('hex')}`);
    cleanups.push(() => rmSync(target, { force: true }));
    const r = await sb.executeCommand(`ls -d /proc/${process.pid} /proc/${process.ppid}; echo x > /proc/${process.pid}/root${target}; echo write=$?; echo pids: $(ls /proc | grep -E '^[0-9]+$' | sort -n | tr '\\n' ' ')`);
    expect(r.stdout).toMatch(/write=(?!0)\d+/);
    expect(existsSync(target)).toBe(false);
    // Only the namespace's own few processes (bwrap's init, the shell, ls...), numbered from 1.
    const pids = r.stdout.split('pids:')[1]!.trim().split(/\s+/).map(Number);
    expect(pids[0]).toBe(1);
    expect(pids).not.toContain(process.pid);
    expect(Math.max(...pids)).toBeLessThan(100);
  });

  it("cannot read another process's environment (this process's included)", async () => {
    // /proc/PID/environ shows the environment a process started with: a child started with a secret.
    const secret = `vws-env-secret-${randomBytes(6).toString('hex')}`;
    const holder = spawn('sleep', ['30'], { env: { ...process.env, VWS_CONTAIN_SECRET: secret }, stdio: 'ignore' });
    cleanups.push(() => holder.kill('SIGKILL'));
    const sb = await make({ isolation: 'bwrap' });
    const r = await sb.executeCommand(`cat /proc/${process.pid}/environ /proc/${holder.pid}/environ; for f in /proc/[0-9]*/environ; do cat $f; done | tr '\\0' '\\n' | grep -c VWS_CONTAIN_SECRET; true`);
    expect(r.stdout).not.toContain(secret);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('0');
    expect(r.stderr).toMatch(new RegExp(`/proc/${process.pid}/environ: No such file`));
    // The same read without bwrap does reach it: what the README says a command can reach there.
    const open = await make({});
    expect((await open.executeCommand(`tr '\\0' '\\n' < /proc/${holder.pid}/environ | grep VWS_CONTAIN_SECRET`)).stdout.trim()).toBe(`VWS_CONTAIN_SECRET=${secret}`);
  });

  it("hides $VWS_HOME, the project (this process's cwd), hidePaths, other workspaces and the host's secrets", async () => {
    const home = mkdtempSync(join('/var/tmp', 'vws-home-'));
    cleanups.push(() => rmSync(home, { recursive: true, force: true }));
    mkdirSync(join(home, 'vaults', 'other'), { recursive: true });
    writeFileSync(join(home, 'vaults', 'other', 'state.snap'), 'vault-bytes');
    const extra = mkdtempSync(join('/var/tmp', 'vws-hidden-'));
    cleanups.push(() => rmSync(extra, { recursive: true, force: true }));
    writeFileSync(join(extra, 'private.txt'), 'private');
    const old = process.env.VWS_HOME;
    process.env.VWS_HOME = home;
    cleanups.push(() => (old === undefined ? delete process.env.VWS_HOME : (process.env.VWS_HOME = old)));
    // Another workspace, FUSE-mounted outside /tmp (which is a fresh tmpfs anyway).
    const otherDir = mkdtempSync(join('/var/tmp', 'vws-other-ws-'));
    cleanups.push(() => rmSync(otherDir, { recursive: true, force: true }));
    const other = new PtySandbox({ workingDirectory: otherDir });
    sandboxes.push(other);
    await other.mount(new InodeFilesystem({ files: { '/their.txt': 'theirs' } }), '/');
    expect(other.mountModes()).toEqual({ '/': 'fuse' });
    // And one in sync mode (its shadow lives in /dev/shm).
    const otherSync = await make({}, 'sync');
    await otherSync.executeCommand('echo shadowed > s.txt');

    const sb = await make({ isolation: 'bwrap', hidePaths: [extra] });
    const show = (p: string) => `echo "${p}: $(ls -A ${p} 2>&1 | tr '\\n' ' ')"`;
    const r = await sb.executeCommand(
      [show(home), show(process.cwd()), show(extra), show(otherDir), show(otherSync.workingDirectory!), `cat ${join(home, 'vaults/other/state.snap')} ${join(process.cwd(), 'package.json')} 2>&1 | head -c 200; echo`, 'echo "shadow: $(cat /etc/shadow 2>/dev/null | wc -c)"', show('/root'), 'echo data > mine.txt && cat mine.txt'].join('; '),
    );
    const line = (p: string) => r.stdout.split('\n').find((l) => l.startsWith(`${p}:`)) ?? '';
    expect(line(home)).toBe(`${home}: `);
    expect(line(process.cwd())).toBe(`${process.cwd()}: `);
    expect(line(extra)).toBe(`${extra}: `);
    expect(line(otherDir)).toBe(`${otherDir}: `);
    expect(line(otherSync.workingDirectory!)).toMatch(/No such file|^\S+: $/);
    expect(r.stdout).not.toContain('vault-bytes');
    expect(r.stdout).not.toContain('"name"');
    expect(r.stdout).toContain('shadow: 0\n');
    expect(line('/root')).toBe('/root: ');
    // The workspace itself is there and writable.
    expect(r.stdout).toContain('data\n');
    // Outside the sandbox all of it is still there.
    expect(readFileSync(join(otherDir, 'their.txt'), 'utf8')).toBe('theirs');
  });

  it('leaves nothing behind: nohup, setsid and double-forked daemons end with the command', async () => {
    const sb = await make({ isolation: 'bwrap' });
    const m = marker();
    const r = await sb.executeCommand(escapes(m));
    expect(r.stdout.trim()).toBe('3'); // all three were running
    expect(await survivorsAfter(m)).toEqual([]);
  });

  it('a timeout still ends the command (exit 124) and everything it started', async () => {
    const sb = await make({ isolation: 'bwrap', killGraceMs: 5000 });
    const m = marker();
    const t0 = Date.now();
    const r = await sb.executeCommand(`setsid bash -c 'exec -a ${m}-child sleep 1000' & exec -a ${m}-main sleep 1000`, [], { timeout: 500 });
    expect(r).toMatchObject({ exitCode: 124, timedOut: true });
    // SIGTERM ends bubblewrap, and the namespace with it: no need to wait for the SIGKILL grace.
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(await survivorsAfter(m)).toEqual([]);
  });

  it('a background process and what it starts live while the sandbox does, and end with destroy()', async () => {
    const sb = await make({ isolation: 'bwrap' });
    const m = marker();
    const h = await sb.processes.spawn(`setsid bash -c 'exec -a ${m}-child sleep 1000' & exec -a ${m}-main sleep 1000`);
    const t0 = Date.now();
    while (survivors(m).length < 2 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    expect(survivors(m)).toHaveLength(2);
    await sb.executeCommand('true');
    expect(survivors(m)).toHaveLength(2);
    expect(h.exitCode).toBeUndefined();
    await sb.destroy();
    expect(await survivorsAfter(m)).toEqual([]);
  });

  it('a denied program cannot run under any spelling (bound over with /dev/null)', async () => {
    const sb = await make({ isolation: 'bwrap', deny: ['curl'] });
    // Spellings no command-line check can see: a variable, a copy, an interpreter's exec.
    const r = await sb.executeCommand(
      [
        'x=/usr/bin/cu; "${x}rl" --version; echo var=$?',
        'y=cu; $y""rl --version; echo bare=$?',
        'cp /usr/bin/curl ./c 2>/dev/null; chmod +x ./c 2>/dev/null; ./c --version; echo copy=$?',
        `python3 -c 'import os; os.execv("/usr/bin/curl", ["curl", "--version"])' 2>&1 | tail -1; echo py=$?`,
      ].join('\n'),
    );
    expect(r.stdout).not.toMatch(/curl \d+\.\d+/);
    expect(r.stdout).toMatch(/var=126/);
    expect(r.stdout).toMatch(/bare=126/);
    expect(r.stdout).toMatch(/Permission denied/);
    // Without the deny list curl runs there (so the above is the denial, not a missing binary).
    const open = await make({ isolation: 'bwrap' });
    expect((await open.executeCommand('curl --version')).stdout).toMatch(/curl \d+\.\d+/);
  });
});

describe.each(['fuse', 'sync', 'none'] as const)('without bwrap (%s)', (mount) => {
  it('this machine reaps exactly (a cgroup per run), and getInfo says so', async () => {
    // The test below needs it: without a writable cgroup v2 runs fall back to the process group.
    expect(reapsExactly()).toBe(true);
    expect((await make({}, mount)).getInfo().metadata).toMatchObject({ reaping: 'cgroup' });
    expect((await make({ isolation: 'bwrap' }, mount)).getInfo().metadata).toMatchObject({ reaping: 'pid-namespace' });
  });

  it('leaves nothing behind: nohup, setsid and double-forked daemons end with the command', async () => {
    const sb = await make({}, mount);
    const m = marker();
    const r = await sb.executeCommand(escapes(m));
    expect(r.stdout.trim()).toBe('3');
    expect(await survivorsAfter(m)).toEqual([]);
    // The sandbox goes on working.
    expect((await sb.executeCommand('echo still')).stdout).toBe('still\n');
  });

  it('a timeout ends the command (exit 124) and what it started in another session', async () => {
    const sb = await make({}, mount);
    const m = marker();
    const r = await sb.executeCommand(`setsid bash -c 'exec -a ${m}-child sleep 1000' & exec -a ${m}-main sleep 1000`, [], { timeout: 500 });
    expect(r).toMatchObject({ exitCode: 124, timedOut: true });
    expect(await survivorsAfter(m)).toEqual([]);
  });

  it('a background process (processes.spawn) and what it starts live while the sandbox does, and end with destroy()', async () => {
    const sb = await make({}, mount);
    const m = marker();
    const h = await sb.processes.spawn(`setsid bash -c 'exec -a ${m}-child sleep 1000' & exec -a ${m}-main sleep 1000`);
    const t0 = Date.now();
    while (survivors(m).length < 2 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    expect(survivors(m)).toHaveLength(2);
    // Commands run meanwhile leave it alone.
    await sb.executeCommand('true');
    expect(survivors(m)).toHaveLength(2);
    expect(h.exitCode).toBeUndefined();
    await sb.destroy();
    expect(await survivorsAfter(m)).toEqual([]);
  });
});

describe('run cgroups are reused', () => {
  it("a finished run's late kill does not reach the next run that got its emptied cgroup", async () => {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
    const first = await launch({ command: 'true', cwd: '/', env, interactive: false }, () => {}, () => {});
    await first.done;
    const m = marker();
    const next = await launch({ command: `exec -a ${m} sleep 1000`, cwd: '/', env, interactive: false }, () => {}, () => {});
    const t0 = Date.now();
    while (survivors(m).length < 1 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    first.signal('SIGKILL'); // as Runner.run and process handles do after a run
    await new Promise((r) => setTimeout(r, 300));
    expect(survivors(m)).toHaveLength(1);
    next.signal('SIGKILL');
    await next.done;
    expect(await survivorsAfter(m)).toEqual([]);
  });
});

describe('deny list: matched by every program a command line runs and its resolved executable', () => {
  it('finds the programs of a command line (not their arguments)', () => {
    expect(programsOf('true; curl x')).toEqual(['true', 'curl']);
    expect(programsOf('env -i FOO=1 curl x')).toEqual(['env', 'curl']);
    expect(programsOf('command curl x && nohup nice -n 5 wget y')).toEqual(['command', 'curl', 'nohup', 'nice', 'wget']);
    expect(programsOf('FOO=1 /usr/bin/curl x | tee out')).toEqual(['/usr/bin/curl', 'tee']);
    expect(programsOf("bash -c 'echo $(curl x)'")).toEqual(['bash', 'echo', 'curl']);
    expect(programsOf('echo "a `curl x`"; if curl y; then :; fi')).toEqual(['echo', 'curl', ':', 'curl']);
    expect(programsOf('echo curl; cat curl.txt')).toEqual(['echo', 'cat']);
    expect(programsOf('timeout 5 curl x; exec -a name curl')).toEqual(['timeout', 'curl', 'exec', 'curl']);
    // Redirections, arithmetic and comments are not commands.
    expect(programsOf('curl x 2>&1 | tee y; wget z &> log; >out 2> err cat <&0')).toEqual(['curl', 'tee', 'wget', 'cat']);
    expect(programsOf('echo $((1 + 2)) # curl\ntrue')).toEqual(['echo', 'true']);
    expect(programsOf('sleep 1 & curl x')).toEqual(['sleep', 'curl']);
  });

  it.each(['curl --version', '/usr/bin/curl --version', 'true; curl --version', 'env curl --version', 'command curl --version', 'FOO=1 curl --version', "bash -c 'curl --version'", 'echo $(curl --version)', 'true && nohup curl --version', 'exec curl --version'])('refuses %s before anything runs', async (line) => {
    const sb = await make({ deny: ['curl'] }, 'none');
    const before = await sb.executeCommand('ls -A');
    await expect(sb.executeCommand(`${line} > ran.txt`)).rejects.toBeInstanceOf(CommandDeniedError);
    expect((await sb.executeCommand('ls -A')).stdout).toBe(before.stdout);
  });

  it('refuses a link to the denied executable (matched by what it resolves to), and argv calls', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vws-deny-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    symlinkSync('/usr/bin/curl', join(dir, 'fetch'));
    const sb = await make({ deny: ['curl'] }, 'none');
    await expect(sb.executeCommand(`${join(dir, 'fetch')} --version`)).rejects.toThrow(/deny list/);
    await expect(sb.executeCommand('env', ['curl', '--version'])).rejects.toThrow(/deny list/);
    // Naming it is not running it.
    expect((await sb.executeCommand('echo curl')).stdout).toBe('curl\n');
  });

  it('an allow list applies to every program of the line (builtins that run nothing pass)', async () => {
    const sb = await make({ allow: ['echo', 'cat'] }, 'none');
    expect((await sb.executeCommand('cd / && echo ok')).stdout).toBe('ok\n');
    expect((await sb.executeCommand('echo $((1 + 1)) 2>&1 # a comment')).stdout).toBe('2\n');
    await expect(sb.executeCommand('echo ok; curl --version')).rejects.toThrow(/'curl' is not on the allow list/);
  });
});
