// The exec daemon through the real `vws` binary: one daemon serves many execs with the same results
// as an in-process exec; a tree written by any other process is seen; a client killed mid-command
// kills the command and saves nothing; a daemon killed mid-command leaves the vault as it was and no
// mount behind; stop, idle and a removed $VWS_HOME end it.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execRoute } from '../src/daemon/route.js';
import { hoistGlobalOptions } from '../src/global-options.js';
import { requestProblems } from '../src/daemon/server.js';
import { killCli, run, start, stopDaemons } from './helpers.js';
import { processAlive } from '../src/process-alive.js';

let home: string;
let outside: string; // a host directory the commands write to (not part of any vault)
beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'vws-home-'));
  outside = mkdtempSync(join(tmpdir(), 'vws-outside-'));
  expect((await run(home, ['vault', 'create', 'd'])).code).toBe(0);
});
afterEach(async () => {
  await stopDaemons(home);
});
afterAll(() => {
  rmSync(home, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const ok = async (args: string[], env?: Record<string, string>) => {
  const r = await run(home, args, { env });
  expect(r.code, `${args.join(' ')}\n${r.stdout}${r.stderr}`).toBe(0);
  return r;
};
interface Status {
  pid: number;
  rssBytes: number;
  served: number;
  running: number;
  vaults: string[];
}
const daemons = async (h = home): Promise<Status[]> => JSON.parse((await run(h, ['--json', 'daemon', 'status'])).stdout).daemons;
/** Where the vws process pid has a FUSE mount (mountinfo: field 5 the mount point, fsname vws:PID). */
const mountOf = (pid: number) =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .find((l) => l.includes(` vws:${pid} `))
    ?.split(' ')[4];
const cat = async (path: string) => {
  const r = await run(home, ['--json', '--vault', 'd', 'cat', path]);
  return r.code === 0 ? (JSON.parse(r.stdout).content as string) : null;
};

describe('exec daemon', () => {
  it('serves one exec after another from one process, with the results of an in-process exec', async () => {
    const started = JSON.parse((await ok(['--json', 'daemon', 'start'])).stdout);
    expect(JSON.parse((await ok(['--json', 'daemon', 'start'])).stdout)).toEqual(started); // the one running
    const cmd = ['--json', '--vault', 'd', 'exec', '--', 'sh', '-c', 'echo out; echo err >&2; echo $((n+1)) > count; exit 4'];
    const viaDaemon = await run(home, cmd);
    expect(viaDaemon.code).toBe(4);
    const [first] = await daemons();
    expect(first.pid).toBe(started.pid);
    expect(first.served).toBe(1);
    expect(first.vaults).toEqual(['d']);
    expect(first.rssBytes).toBeGreaterThan(10 * 2 ** 20); // a Node process holding a tree
    const inProcess = await run(home, cmd, { env: { VWS_DAEMON: '0' } });
    expect(inProcess.code).toBe(4);
    // The same document either way (count was created by the first run, modified by the second).
    expect(JSON.parse(viaDaemon.stdout)).toEqual({ exitCode: 4, stdout: 'out\n', stderr: 'err\n', changes: { created: ['/count'], modified: [], deleted: [] } });
    expect(JSON.parse(inProcess.stdout)).toEqual({ exitCode: 4, stdout: 'out\n', stderr: 'err\n', changes: { created: [], modified: ['/count'], deleted: [] } });
    // Human output: the command's own streams, then the summary on stderr.
    // (No colour codes: the client decides by its own terminal and environment, CI=true says yes.)
    const human = await run(home, ['--vault', 'd', 'exec', '--', 'sh', '-c', 'echo hello; echo there >&2; rm count'], { env: { NO_COLOR: '1' } });
    expect(human.code).toBe(0);
    expect(human.stdout).toBe('hello\n');
    expect(human.stderr).toBe('there\nvws: 0 changed, 0 added, 1 deleted (--verbose lists them)\n');
    const coloured = await run(home, ['--vault', 'd', 'exec', '--', 'sh', '-c', 'echo c > count'], { env: { FORCE_COLOR: '1' } });
    expect(coloured.stderr).toBe('\u001b[2mvws: 0 changed, 1 added, 0 deleted (--verbose lists them)\n\u001b[22m');
    const [after] = await daemons();
    expect(after.pid).toBe(first.pid);
    expect(after.served).toBe(3); // the in-process one was not its
    // Errors are the CLI's, with its exit codes.
    const missing = await run(home, ['--json', '--vault', 'nope', 'exec', '--', 'true']);
    expect(missing.code).toBe(3);
    expect(JSON.parse(missing.stdout).error.message).toMatch(/no vault named 'nope'/);
  });

  it('sees a tree saved by any other process since its last exec', async () => {
    await ok(['--vault', 'd', 'exec', '--', 'sh', '-c', 'echo 1 > v']);
    await ok(['--vault', 'd', 'write', '/v', 'written by vws write']);
    expect((await ok(['--vault', 'd', 'exec', '--', 'cat', 'v'])).stdout).toBe('written by vws write');
    await ok(['--vault', 'd', 'exec', '--', 'sh', '-c', 'echo in-process > v'], { VWS_DAEMON: '0' });
    expect((await ok(['--vault', 'd', 'exec', '--', 'cat', 'v'])).stdout).toBe('in-process\n');
    await ok(['--vault', 'd', 'checkpoint', 'save', 'c1']);
    await ok(['--vault', 'd', 'exec', '--', 'sh', '-c', 'echo changed > v']);
    await ok(['--vault', 'd', 'checkpoint', 'restore', 'c1']);
    expect((await ok(['--vault', 'd', 'exec', '--', 'cat', 'v'])).stdout).toBe('in-process\n');
  });

  it('passes a large output through whole, multi-byte characters and all', async () => {
    const cmd = ['--vault', 'd', 'exec', '--', 'sh', '-c', 'seq 1 40000 | sed "s/$/ héllo ✓ ünïcode/"'];
    const expected = Array.from({ length: 40_000 }, (_, i) => `${i + 1} héllo ✓ ünïcode\n`).join('');
    const viaDaemon = await ok(cmd);
    expect(viaDaemon.stdout.length).toBe(expected.length);
    expect(viaDaemon.stdout === expected).toBe(true);
    expect((await ok(cmd, { VWS_DAEMON: '0' })).stdout === expected).toBe(true);
  });

  it('pipes stdin to the command (bytes, then end of file), as in-process; stops reading when the command is done', async () => {
    const input = `${'line\n'.repeat(1000)}\u0000\u0003\u0004${'x'.repeat(100_000)}\nend`;
    const cmd = ['--vault', 'd', 'exec', '--', 'sh', '-c', 'cat > in.txt; wc -c < in.txt'];
    for (const env of [{}, { VWS_DAEMON: '0' }] as Array<Record<string, string>>) {
      const r = await run(home, cmd, { input, env });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(String(Buffer.byteLength(input)));
      expect(await cat('/in.txt')).toBe(input);
    }
    expect((await run(home, ['--vault', 'd', 'exec', '--', 'cat'])).stdout).toBe(''); // empty input: EOF at once
    // An endless input and a command that reads three bytes of it: the client ends with the command.
    for (const env of [{}, { VWS_DAEMON: '0' }] as Array<Record<string, string>>) {
      const child = start(home, ['--vault', 'd', 'exec', '--', 'head', '-c', '3'], { env, endless: true });
      let out = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      const code = await new Promise((r) => child.on('close', r));
      expect(code).toBe(0);
      expect(out).toBe('yyy');
    }
  });

  it('drops a connection that sends no frame or a bad request, and keeps serving', async () => {
    await ok(['daemon', 'start']);
    const [socket] = readdirSync(join(home, 'run')).filter((f) => f.endsWith('.sock'));
    const hangUp = (bytes: Buffer) =>
      new Promise<void>((resolve, reject) => {
        const c = createConnection(join(home, 'run', socket));
        c.on('error', reject);
        c.on('close', () => resolve());
        c.write(bytes);
      });
    await hangUp(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    const bad = Buffer.from(JSON.stringify({ type: 'exec', argv: [] }));
    await hangUp(Buffer.concat([Buffer.from([0, 0, 0, 0, bad.length]), bad]));
    const log = readFileSync(join(home, 'run', 'daemon.log'), 'utf8');
    expect(log).toMatch(/dropped a connection: not a vws daemon frame/);
    expect(log).toMatch(/dropped a connection: not a vws exec request \(json: .*argv: /);
    expect((await ok(['--vault', 'd', 'exec', '--', 'echo', 'still here'])).stdout).toBe('still here\n');
  });

  it('runs two clients on one vault one after the other (the lock), and keeps both changes', async () => {
    const [a, b] = await Promise.all(['a', 'b'].map((n) => run(home, ['--vault', 'd', 'exec', '--', 'sh', '-c', `sleep 0.5; echo ${n} > both-${n}`])));
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(await cat('/both-a')).toBe('a\n');
    expect(await cat('/both-b')).toBe('b\n');
    // A client that may wait only briefly (its VWS_LOCK_WAIT_MS) gives up with the CLI's message.
    const slow = run(home, ['--vault', 'd', 'exec', '--', 'sh', '-c', 'sleep 1.5; echo slow > slow']);
    await new Promise((r) => setTimeout(r, 500));
    const impatient = await run(home, ['--vault', 'd', 'exec', '--', 'sh', '-c', 'echo no > impatient'], { env: { VWS_LOCK_WAIT_MS: '200' } });
    expect(impatient.code).toBe(5);
    expect(impatient.stderr).toMatch(/vault 'd' is in use by another vws process \(waited 200 ms\)/);
    expect((await slow).code).toBe(0);
    expect(await cat('/slow')).toBe('slow\n');
    expect(await cat('/impatient')).toBeNull();
  });

  it('a client killed mid-command: the command is killed and nothing it did is saved', async () => {
    await ok(['--vault', 'd', 'exec', '--', 'true']); // the daemon is up
    const pidFile = join(outside, 'killed-client.pid');
    const client = start(home, ['--vault', 'd', 'exec', '--', 'sh', '-c', `echo partial > partial.txt; echo $$ > ${pidFile}; sleep 30`]);
    await until('the command has started', () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'));
    const commandPid = Number(readFileSync(pidFile, 'utf8'));
    killCli(client.pid!); // the client (and its tsx child when vws runs from the sources)
    await until('the command is killed', () => !processAlive(commandPid));
    expect(await cat('/partial.txt')).toBeNull();
    const [d] = await daemons();
    expect(d.running).toBe(0);
    expect((await ok(['--vault', 'd', 'exec', '--', 'sh', '-c', 'echo fine'])).stdout).toBe('fine\n');
  });

  it('Ctrl-C (SIGINT) of a client ends its command: exit 130, nothing saved', async () => {
    await ok(['--vault', 'd', 'exec', '--', 'true']);
    const pidFile = join(outside, 'interrupted.pid');
    const client = start(home, ['--vault', 'd', 'exec', '--', 'sh', '-c', `echo x > interrupted.txt; echo $$ > ${pidFile}; sleep 30`]);
    const closed = new Promise<number | null>((r) => client.on('close', r));
    await until('the command has started', () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'));
    process.kill(client.pid!, 'SIGINT'); // bin/vws.js passes it on when it runs the sources
    expect(await closed).toBe(130);
    await until('the command is killed', () => !processAlive(Number(readFileSync(pidFile, 'utf8'))));
    expect(await cat('/interrupted.txt')).toBeNull();
  });

  it('serves execs on two vaults at once', async () => {
    expect((await run(home, ['vault', 'create', 'd2'])).code).toBe(0);
    const stamp = (v: string, at: string) => `date +%s%N > ${join(outside, `${v}.${at}`)}`;
    const [a, b] = await Promise.all(['d', 'd2'].map((v) => run(home, ['--json', '--vault', v, 'exec', '--', 'sh', '-c', `${stamp(v, 'start')}; sleep 1; echo ${v} > which; ${stamp(v, 'end')}`])));
    expect(a.code, a.stdout + a.stderr).toBe(0);
    expect(b.code, b.stdout + b.stderr).toBe(0);
    // Side by side, not one after the other: each started before the other ended.
    const at = (v: string, w: string) => BigInt(readFileSync(join(outside, `${v}.${w}`), 'utf8').trim());
    expect(at('d', 'start') < at('d2', 'end') && at('d2', 'start') < at('d', 'end')).toBe(true);
    expect([JSON.parse(a.stdout).changes, JSON.parse(b.stdout).changes].map((c) => [...c.created, ...c.modified])).toEqual([['/which'], ['/which']]);
    expect((await run(home, ['--json', '--vault', 'd2', 'cat', '/which'])).stdout).toMatch(/"content":"d2\\n"/);
    expect((await daemons())[0].vaults.sort()).toEqual(['d', 'd2']);
  });

  it("execs starting daemons at once over a dead daemon's socket all run to the end", async () => {
    // A race that can fail 'serves execs on two vaults at once' under load: new daemons each find the
    // dead one's socket unanswered, one unlinks the socket another has just bound, and that one stops
    // (its socket replaced) with an exec running. Taking over the socket is now done under a lock.
    // (The window is narrow: this did not fail without the lock in two runs here.)
    const vaults = ['r1', 'r2', 'r3', 'r4'];
    for (const v of vaults) expect((await run(home, ['vault', 'create', v])).code).toBe(0);
    for (let round = 0; round < 3; round++) {
      await ok(['--vault', 'r1', 'exec', '--', 'true']);
      const [d] = await daemons();
      process.kill(d.pid, 'SIGKILL');
      await until('the daemon is gone', () => !processAlive(d.pid));
      const rs = await Promise.all(vaults.map((v) => run(home, ['--vault', v, 'exec', '--', 'sh', '-c', `sleep 1; echo ${round} > n`])));
      for (const r of rs) expect(r.code, `round ${round}: ${r.stderr}`).toBe(0);
      expect(await daemons()).toHaveLength(1);
    }
    for (const v of vaults) expect((await run(home, ['--json', '--vault', v, 'cat', '/n'])).stdout).toMatch(/"content":"2\\n"/);
  }, 60_000);

  it('the daemon killed mid-command: the client says so, the vault is as before, no mount is left, the next exec starts a new daemon', async () => {
    await ok(['--vault', 'd', 'exec', '--', 'sh', '-c', 'echo before > state']);
    const [d] = await daemons();
    const pidFile = join(outside, 'killed-daemon.pid');
    const client = run(home, ['--vault', 'd', 'exec', '--', 'sh', '-c', `echo during > state; echo $$ > ${pidFile}; sleep 30`]);
    await until('the command has started', () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'));
    const mountPoint = mountOf(d.pid)!;
    expect(mountPoint).toMatch(/vws-mnt-/);
    process.kill(d.pid, 'SIGKILL');
    const r = await client;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/exec daemon ended before the command did/);
    await until('the dead daemon is unmounted', () => !mountOf(d.pid));
    // Its empty mount point: a process killed with -9 cleans nothing up (the next mount anywhere may
    // sweep it first: @vws/fuse sweepDeadServers).
    rmSync(mountPoint, { recursive: true, force: true });
    await until('the command is gone', () => !processAlive(Number(readFileSync(pidFile, 'utf8'))));
    expect(await cat('/state')).toBe('before\n');
    await ok(['--vault', 'd', 'exec', '--', 'true']);
    const [next] = await daemons();
    expect(next.pid).not.toBe(d.pid);
  });

  it('stops on `vws daemon stop`, when idle, and when its $VWS_HOME is removed', async () => {
    // Stopped while a command runs: that client is told, the command killed, nothing saved.
    await ok(['--vault', 'd', 'exec', '--', 'true']);
    const [d] = await daemons();
    const pidFile = join(outside, 'stopped.pid');
    const client = run(home, ['--vault', 'd', 'exec', '--', 'sh', '-c', `echo x > stopped.txt; echo $$ > ${pidFile}; sleep 30`]);
    await until('the command has started', () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'));
    await stopDaemons(home);
    const r = await client;
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/^vws: the command was killed before it ended .*nothing it changed was saved\n$/);
    expect(processAlive(Number(readFileSync(pidFile, 'utf8')))).toBe(false);
    expect(await cat('/stopped.txt')).toBeNull();
    expect(await daemons()).toEqual([]);
    expect(processAlive(d.pid)).toBe(false);

    // Idle: the first client's environment is the daemon's.
    await ok(['--vault', 'd', 'exec', '--', 'true'], { VWS_DAEMON_IDLE_MS: '500' });
    const [idle] = await daemons();
    await until('the idle daemon ends', () => !processAlive(idle.pid));

    // A relative $VWS_HOME is the client's (the daemon runs in '/').
    const rel = await run(outside, ['--vault', 'd', 'exec', '--', 'cat', 'v'], { env: { VWS_HOME: relative(outside, home) } });
    expect(rel.code, rel.stderr).toBe(0);
    expect(rel.stdout).toBe('in-process\n');
    expect((await daemons()).map((x) => x.served)).toEqual([1]); // served by a daemon of this home
    await stopDaemons(home);

    const other = mkdtempSync(join(tmpdir(), 'vws-home-'));
    try {
      expect((await run(other, ['vault', 'create', 'x'])).code).toBe(0);
      expect((await run(other, ['--vault', 'x', 'exec', '--', 'true'])).code).toBe(0);
      const [gone] = await daemons(other);
      rmSync(other, { recursive: true, force: true });
      await until('the daemon of a removed home ends', () => !processAlive(gone.pid));
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});

describe('exec route', () => {
  const env = {} as NodeJS.ProcessEnv;
  it('sends only `[--json] [--vault V] exec [--] CMD...` to the daemon', () => {
    expect(execRoute(['exec', '--', 'ls', '-l'], env)).toMatchObject({ vault: undefined, json: false, argv: ['ls', '-l'] });
    expect(execRoute(['--json', '--vault', 'v', 'exec', 'ls', '-l'], env)).toMatchObject({ vault: 'v', json: true, argv: ['ls', '-l'] });
    expect(execRoute(['--vault=v', 'exec', '--', 'exec'], env)).toMatchObject({ vault: 'v', json: false, argv: ['exec'] });
    expect(execRoute(['exec', 'true'], { VWS_VAULT: 'e' })).toMatchObject({ vault: 'e', json: false, argv: ['true'] });
    for (const args of [['exec'], ['exec', '--'], ['exec', '--help'], ['exec', '--no-daemon', 'true'], ['--bogus', 'exec', 'true'], ['ls', '/'], ['cat', 'exec']]) expect(execRoute(args, env), args.join(' ')).toBeNull();
    expect(execRoute(['exec', 'true'], { VWS_DAEMON: '0' })).toBeNull();
  });

  it('takes the global options after exec too, and leaves the command line alone', () => {
    expect(execRoute(['exec', '--vault', 'v', '--json', '--', 'ls', '--json'], env)).toMatchObject({ vault: 'v', json: true, argv: ['ls', '--json'] });
    expect(execRoute(['exec', '--vault=v', 'echo', '--vault', 'x'], env)).toMatchObject({ vault: 'v', json: false, argv: ['echo', '--vault', 'x'] });
  });

  it("takes exec's own options (--cwd, --env, --keep-caches, --verbose); anything malformed goes to the CLI", () => {
    expect(execRoute(['exec', '--cwd', 'src', '--env', 'A=1', '--env=B=x=y', '--keep-caches', '-v', '--', 'ls'], env)).toEqual({ vault: undefined, json: false, argv: ['ls'], cwd: 'src', env: ['A=1', 'B=x=y'], keepCaches: true, verbose: true });
    expect(execRoute(['exec', '--cwd', 'src', '--vault', 'v', 'ls', '--cwd', 'x'], env)).toEqual({ vault: 'v', json: false, argv: ['ls', '--cwd', 'x'], cwd: 'src', env: [], keepCaches: false, verbose: false });
    expect(execRoute(['exec', 'ls'], env)).toEqual({ vault: undefined, json: false, argv: ['ls'], env: [], keepCaches: false, verbose: false });
    for (const args of [['exec', '--env', 'novalue', 'ls'], ['exec', '--env', '1A=b', 'ls'], ['exec', '--cwd'], ['exec', '--cwd', 'src']]) expect(execRoute(args, env), args.join(' ')).toBeNull();
  });
});

describe('global options after the command', () => {
  it('moves --json and --vault before the command, never past -- or into exec\'s command line', () => {
    expect(hoistGlobalOptions(['vault', 'list', '--json'])).toEqual(['--json', 'vault', 'list']);
    expect(hoistGlobalOptions(['cat', '/a', '--vault', 'v'])).toEqual(['--vault', 'v', 'cat', '/a']);
    expect(hoistGlobalOptions(['exec', '--vault=v', '--no-daemon', '--', 'cmd', '--json'])).toEqual(['--vault=v', 'exec', '--no-daemon', '--', 'cmd', '--json']);
    expect(hoistGlobalOptions(['exec', 'grep', '--json', 'f'])).toEqual(['exec', 'grep', '--json', 'f']);
    expect(hoistGlobalOptions(['write', '/f', '--', '--json'])).toEqual(['write', '/f', '--', '--json']);
  });
});

describe('daemon requests', () => {
  it('takes exec, status and stop, and says what is wrong with anything else', () => {
    const settings = { env: { NODE_EXTRA_CA_CERTS: '/ca.pem' }, userHome: '/home/u' };
    expect(requestProblems({ type: 'exec', json: false, color: true, argv: ['true'], settings })).toEqual([]);
    expect(requestProblems({ type: 'exec', vault: 'v', json: true, color: false, argv: ['ls', '-l'], lockWaitMs: 0, settings: { ...settings, cwd: 'src', extraEnv: { A: 'b' }, keepCaches: true }, verbose: true })).toEqual([]);
    expect(requestProblems({ type: 'exec', json: false, color: true, argv: ['true'], settings: { env: { A: 1 }, userHome: 2, cwd: 3 } })).toEqual(['settings.env: not a map of strings', 'settings.userHome: not a string', 'settings.cwd: not a string']);
    expect(requestProblems({ type: 'status' })).toEqual([]);
    expect(requestProblems({ type: 'stop' })).toEqual([]);
    expect(requestProblems(null)).toEqual(['type: not exec, status or stop']);
    expect(requestProblems({ type: 'exec', vault: 3, json: 'yes', color: true, argv: ['ok', 1], lockWaitMs: -1 })).toEqual(['vault: not a string', 'json: not a boolean', 'argv: not a non-empty list of strings', 'lockWaitMs: not a number >= 0', 'settings: not an object']);
  });
});
