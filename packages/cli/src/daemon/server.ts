// The exec daemon: a resident process per $VWS_HOME (and per build) that serves `vws exec`, so a
// short command costs a client's start-up and a run, not a CLI's start-up, a vault load and a
// spawner's start each time. It keeps what is slow to make and cheap to keep: the loaded trees
// (VaultCache), a Runner whose spawner keeps the next shell started, and a warm JIT.
//
// Each exec is what the CLI does in-process, under the same vault lock: load (or reuse), mount, run,
// save if the tree changed, through the same atomic writes. If the client goes away before the end
// (Ctrl-C, kill -9), the command's process group is killed and nothing is saved: the vault stays as
// it was before the command, as when an in-process exec is killed. If the daemon itself dies, its
// mounts go with it (auto_unmount) and the vault is as the last completed save left it.
//
// It ends by itself: after VWS_DAEMON_IDLE_MS without requests (default 10 minutes), when its socket
// is removed or replaced (its $VWS_HOME deleted, another daemon took the name), on SIGTERM/SIGINT, or
// on `vws daemon stop`.

import { chmodSync, constants, existsSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { dirname } from 'node:path';
import pc from 'picocolors';
import { releaseEngine, restoreForMount } from '@vws/fuse';
import { Runner, runnerProblem } from '@vws/sandbox-pty/runner';
import { currentVaultName, releaseBasesWith, Vault } from '../vault-store.js';
import { errorOutcome, execOutcome, type Outcome } from '../outcome.js';
import { codeStamp, frame, frameReader, pidFile, type Reply, type Request } from './protocol.js';
import { cacheLimits, VaultCache } from './vault-cache.js';
import { runInVault } from '../exec-run.js';
import { processAlive } from '../process-alive.js';

// The daemon's trees live on the serving thread: each save's replaced base is let go at once.
releaseBasesWith(releaseEngine);

export interface ServeOptions {
  socket: string;
  /** Ends after this long without a request (ms). */
  idleMs?: number;
}

/**
 * What a client may ask (the socket is the user's own, 0600; this guards against the wrong peer or a
 * bug): the reasons why not, or none. Checked by hand, not with zod: loading zod costs ~100 ms of the
 * daemon's start-up (measured), which the first exec would pay.
 */
export function requestProblems(m: unknown): string[] {
  const r = (typeof m === 'object' && m !== null ? m : {}) as Record<string, unknown>;
  if (r.type === 'status' || r.type === 'stop') return [];
  if (r.type !== 'exec') return ['type: not exec, status or stop'];
  const problems: string[] = [];
  if (r.vault !== undefined && typeof r.vault !== 'string') problems.push('vault: not a string');
  for (const k of ['json', 'color']) if (typeof r[k] !== 'boolean') problems.push(`${k}: not a boolean`);
  if (!Array.isArray(r.argv) || !r.argv.length || !r.argv.every((a) => typeof a === 'string')) problems.push('argv: not a non-empty list of strings');
  if (r.lockWaitMs !== undefined && !(typeof r.lockWaitMs === 'number' && r.lockWaitMs >= 0)) problems.push('lockWaitMs: not a number >= 0');
  if (r.stdin !== undefined && typeof r.stdin !== 'boolean') problems.push('stdin: not a boolean');
  if (r.verbose !== undefined && typeof r.verbose !== 'boolean') problems.push('verbose: not a boolean');
  const st = (typeof r.settings === 'object' && r.settings !== null ? r.settings : undefined) as Record<string, unknown> | undefined;
  const strings = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
  if (!st) problems.push('settings: not an object');
  else {
    if (!strings(st.env)) problems.push('settings.env: not a map of strings');
    if (typeof st.userHome !== 'string') problems.push('settings.userHome: not a string');
    if (st.extraEnv !== undefined && !strings(st.extraEnv)) problems.push('settings.extraEnv: not a map of strings');
    if (st.cwd !== undefined && typeof st.cwd !== 'string') problems.push('settings.cwd: not a string');
    if (st.keepCaches !== undefined && typeof st.keepCaches !== 'boolean') problems.push('settings.keepCaches: not a boolean');
  }
  return problems;
}

const say = (msg: string) => process.stderr.write(`${new Date().toISOString()} vws daemon ${process.pid}: ${msg}\n`);

export async function serve(options: ServeOptions): Promise<void> {
  const problem = runnerProblem();
  if (problem) {
    say(`not started: ${problem.message}`);
    process.exit(3);
  }
  const idleMs = options.idleMs ?? Number(process.env.VWS_DAEMON_IDLE_MS ?? 600_000);
  // The spawner must exist before any mount (a process forked later would inherit /dev/fuse):
  // Runner.run waits for it. Its start-up overlaps listening and the first request's vault load.
  const runner = new Runner({ warm: true });
  runner.start().catch((e: Error) => {
    say(`the spawner did not start: ${e.message}`);
    process.exit(1);
  });
  const cache = new VaultCache(cacheLimits(), releaseEngine);
  const running = new Set<AbortController>();
  const startedAt = new Date().toISOString();
  let served = 0;
  let lastRequest = Date.now();

  const server = createServer((socket) => handle(socket));
  const ino = await listen(server, options.socket);
  // So that `vws daemon stop` and `vws doctor` find this process even if it stops answering.
  writeFileSync(pidFile(options.socket), String(process.pid), { mode: 0o600 });
  say(`serving ${options.socket}`);

  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    say(`stopping: ${why}`);
    server.close();
    // Only our own socket (and pid file): another daemon may have taken the name since.
    if (socketIno(options.socket) === ino) {
      unlinkSync(options.socket);
      rmSync(pidFile(options.socket), { force: true });
    }
    for (const c of running) c.abort();
    const finish = () => {
      runner.stop();
      process.exit(0);
    };
    if (!running.size) finish();
    else {
      const check = setInterval(() => running.size || finish(), 20);
      // Never linger: a run that does not end when killed (its mount or a thread stuck) must not keep
      // the daemon; process.exit could itself wait on a stuck thread, SIGKILL cannot (the kernel
      // unmounts our mounts: auto_unmount).
      setTimeout(() => {
        say(`${running.size} run(s) did not end within 5 s of the stop: exiting hard`);
        process.kill(process.pid, 'SIGKILL');
      }, 5_000).unref();
      check.unref();
    }
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => stop(sig));
  setInterval(() => {
    if (socketIno(options.socket) !== ino) stop('its socket was removed or replaced');
    else if (!running.size && Date.now() - lastRequest > idleMs) stop(`idle for ${idleMs} ms`);
    else cache.trim();
  }, 1_000).unref();
  // Kept alive by the server, not the timers.

  function handle(socket: Socket): void {
    socket.on('error', () => {}); // a client that went away: handled by 'close'
    const send = (m: Reply) => {
      if (!socket.destroyed) socket.write(frame(m));
    };
    let taken = false;
    // The client's piped stdin, when it has one: its frames follow the request (backpressure: the
    // socket pauses while the command is not reading).
    let input: PassThrough | undefined;
    const read = frameReader<unknown>((message) => {
      if (taken) {
        const m = message as Request;
        if (m.type !== 'stdin') throw new Error('one request a connection, then only its stdin');
        if (!input) return; // the run is over: its input is not wanted any more
        if (!m.data.length) input.end();
        else if (!input.write(m.data)) {
          socket.pause();
          input.once('drain', () => socket.resume());
        }
        return;
      }
      taken = true;
      lastRequest = Date.now();
      const problems = requestProblems(message);
      if (problems.length) throw new Error(`not a vws exec request (${problems.join('; ')})`);
      const req = message as Exclude<Request, { type: 'stdin' }>;
      if (req.type === 'status') {
        const mem = process.memoryUsage();
        send({ type: 'status', pid: process.pid, stamp: codeStamp(), startedAt, served, running: running.size, vaults: cache.names(), vaultBytes: cache.heldBytes(), rssBytes: mem.rss, heapBytes: mem.heapUsed, externalBytes: mem.external });
        socket.end();
      } else if (req.type === 'stop') {
        socket.end(() => stop('asked to stop'));
      } else {
        const abort = new AbortController();
        socket.on('close', () => abort.abort());
        running.add(abort);
        if (req.stdin) input = new PassThrough();
        void exec(req, send, abort.signal, input)
          .catch((e: unknown) => errorOutcome(e, req.json))
          .then((out) => {
            input = undefined;
            socket.resume(); // if paused for stdin the command no longer reads
            running.delete(abort);
            served++;
            lastRequest = Date.now();
            if (out.stdout) send({ type: 'stdout', data: out.stdout });
            if (out.stderr) send({ type: 'stderr', data: out.stderr });
            send({ type: 'exit', code: out.exitCode });
            socket.end();
          });
      }
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        read(chunk);
      } catch (e) {
        say(`dropped a connection: ${(e as Error).message}`);
        socket.destroy();
      }
    });
  }

  /** One `vws exec`, as the CLI runs it in-process, on the cached tree. */
  async function exec(req: Extract<Request, { type: 'exec' }>, send: (m: Reply) => void, signal: AbortSignal, stdin?: PassThrough): Promise<Outcome> {
    const vault = Vault.open(currentVaultName(req.vault));
    const stream = !req.json;
    // Its client went away, or `vws daemon stop`: the command is killed, the vault left as it was
    // before it (a client still listening is told so).
    const killed = (): Outcome => {
      cache.drop(vault);
      const message = 'the command was killed before it ended (its client went away, or the exec daemon was stopped); nothing it changed was saved';
      return { ...errorOutcome(new Error(message), req.json), exitCode: 130 };
    };
    return vault.locked(async () => {
      if (signal.aborted) return killed(); // while it waited for the lock: never started
      const fs = cache.get(vault, restoreForMount); // decoded on the FUSE serving thread, where it is served
      try {
        const loaded = fs.version;
        let result;
        try {
          result = await runInVault(runner, fs, vault, req.argv, req.settings, {
            signal,
            stdin,
            onStdout: stream ? (data) => send({ type: 'stdout', data }) : undefined,
            onStderr: stream ? (data) => send({ type: 'stderr', data }) : undefined,
          });
        } catch (e) {
          cache.drop(vault);
          throw e;
        }
        if (signal.aborted) return killed();
        if (fs.version !== loaded) cache.save(vault, fs);
        return execOutcome(result, req.json, pc.createColors(req.color), req.verbose);
      } finally {
        cache.done(vault, fs);
      }
    }, req.lockWaitMs);
  }
}

function socketIno(path: string): bigint | undefined {
  try {
    return statSync(path, { bigint: true }).ino;
  } catch {
    return undefined;
  }
}

/** Listens at path (0600, in a 0700 directory), taking over a socket nobody answers on any more. */
async function listen(server: Server, path: string): Promise<bigint> {
  // The client made the directory: if it is gone, so is the $VWS_HOME this daemon was for.
  if (!existsSync(dirname(path))) {
    say(`not started: ${dirname(path)} does not exist`);
    process.exit(3);
  }
  const attempt = () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  // Under a lock: two daemons started at once over a dead one's socket (two execs, no daemon up)
  // would each find it unanswered, and the second's unlink would remove the socket the first had just
  // bound, which then stops (its socket replaced) with the first exec running.
  return underStartLock(path, async () => {
    try {
      await attempt();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
      if (await answers(path)) {
        say(`another daemon already serves ${path}`);
        rmSync(`${path}.start-lock`, { force: true });
        process.exit(0);
      }
      unlinkSync(path); // left by a daemon that died
      await attempt();
    }
    chmodSync(path, 0o600);
    return socketIno(path)!;
  });
}

/** Runs fn holding `<path>.start-lock` (a file naming its holder; a dead holder's is broken). */
async function underStartLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${path}.start-lock`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx', mode: 0o600 });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let holder = 0;
    try {
      holder = Number(readFileSync(lock, { encoding: 'utf8', flag: constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK }));
    } catch {
      // gone meanwhile, or not a file we wrote: it ages out below
    }
    if (holder > 0 && !processAlive(holder)) rmSync(lock, { force: true });
    else if (Date.now() > deadline) {
      if (holder) throw new Error(`${lock} is held by pid ${holder} (waited 10 s)`);
      rmSync(lock, { recursive: true, force: true }); // unreadable and never released: not a live holder's
    } else await new Promise((r) => setTimeout(r, 10));
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });
}
