// The `vws exec` client: hands the command to this $VWS_HOME's exec daemon (starting it when none
// answers), prints what comes back as it comes, and exits with the command's code. Loads nothing but
// Node's built-ins and picocolors: this module's start-up is the floor of every exec.

import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pc from 'picocolors';
import { frame, frameReader, homeDir, runDir, socketPath, type Reply } from './protocol.js';
import type { ExecRoute } from './route.js';
import { clientSettings, parseEnvAssignments } from '../exec-env.js';

/** Unix socket paths longer than this do not fit in sockaddr_un (108 bytes with its NUL). */
const MAX_SOCKET_PATH = 107;

/**
 * Runs the exec through the daemon and resolves to its exit code, or to null when no daemon could
 * be had (the caller then runs the command in-process).
 */
export async function execThroughDaemon(route: ExecRoute): Promise<number | null> {
  const path = socketPath();
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) return null;
  const socket = (await connect(path)) ?? (await startDaemon(path));
  if (!socket) return null;
  return new Promise<number>((resolve) => {
    let code: number | undefined;
    // Ctrl-C or a kill: the daemon sees the connection close, kills the command and saves nothing.
    const onSignal = (sig: NodeJS.Signals) => {
      socket.destroy();
      resolve(128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as Record<string, number>)[sig]);
    };
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, onSignal);
    const read = frameReader<Reply>((m) => {
      if (m.type === 'stdout') process.stdout.write(m.data);
      else if (m.type === 'stderr') process.stderr.write(m.data);
      else if (m.type === 'exit') {
        code = m.code;
        socket.destroy(); // all said; stdin not yet sent is not wanted (it may not even drain)
      }
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        read(chunk);
      } catch (e) {
        process.stderr.write(`vws: ${(e as Error).message}\n`);
        socket.destroy(); // reported by 'close'
      }
    });
    socket.on('error', () => {}); // reported by 'close'
    socket.on('close', () => {
      if (code === undefined) {
        process.stderr.write('vws: the exec daemon ended before the command did (see vws daemon status; VWS_DAEMON=0 runs exec in-process)\n');
        code = 1;
      }
      resolve(code);
    });
    const lockWait = process.env.VWS_LOCK_WAIT_MS;
    // Piped input (not a terminal) goes to the command, then its end; a terminal's does not.
    const stdin = !process.stdin.isTTY;
    const settings = clientSettings({ cwd: route.cwd, extraEnv: parseEnvAssignments(route.env), keepCaches: route.keepCaches });
    socket.write(frame({ type: 'exec', vault: route.vault, json: route.json, color: pc.isColorSupported, argv: route.argv, lockWaitMs: lockWait ? Number(lockWait) : undefined, stdin, settings, verbose: route.verbose }));
    if (stdin) {
      process.stdin.on('data', (data: Buffer) => {
        if (!socket.write(frame({ type: 'stdin', data }))) process.stdin.pause();
      });
      socket.on('drain', () => process.stdin.resume());
      process.stdin.once('end', () => socket.write(frame({ type: 'stdin', data: new Uint8Array(0) })));
      process.stdin.on('error', () => {}); // a stdin that cannot be read is an empty one
      socket.once('close', () => process.stdin.destroy()); // the command is done with it
    }
  });
}

/** A connection to the daemon at path, or null if none answers there. */
export function connect(path: string): Promise<Socket | null> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    socket.once('connect', () => resolve(socket));
    socket.once('error', () => resolve(null));
  });
}

/**
 * Starts a daemon for this code (the daemon entry beside this module, with this process's loader
 * flags: the built CLI, or the sources through tsx), in its own session (no terminal, no Ctrl-C),
 * logging to run/daemon.log, and waits until it answers. Null if it exits first or is not up in 20 s.
 */
export async function startDaemon(path: string): Promise<Socket | null> {
  mkdirSync(runDir(), { recursive: true, mode: 0o700 });
  const log = openSync(join(runDir(), 'daemon.log'), 'a', 0o600);
  // Built, this module is a chunk in dist/ beside daemon.js; from the sources, main.ts is beside it.
  const entry = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './main.ts' : './daemon.js', import.meta.url));
  // Not this client's environment: the daemon serves later clients (each exec brings its own).
  const child = spawn(process.execPath, [...process.execArgv, entry, '--socket', path], { cwd: '/', detached: true, stdio: ['ignore', log, log], env: { ...daemonEnv(), VWS_HOME: homeDir() } });
  closeSync(log);
  child.unref();
  let exited = false;
  child.once('exit', () => (exited = true));
  child.once('error', () => (exited = true));
  const deadline = Date.now() + 20_000;
  while (!exited && Date.now() < deadline) {
    const socket = await connect(path);
    if (socket) return socket;
    await new Promise((r) => setTimeout(r, 10));
  }
  // A daemon that lost a start-up race to another one exits at once; that one may answer now.
  return connect(path);
}

/** What the daemon runs with: where things are (PATH, HOME, TMPDIR, locale) and vws's own settings (not the store's URL: it may hold a password, and exec does not use it). */
export function daemonEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && (DAEMON_ENV.has(k) || (k.startsWith('VWS_') && !k.startsWith('VWS_STORE')))) out[k] = v;
  }
  return out;
}
const DAEMON_ENV = new Set(['PATH', 'HOME', 'USER', 'LOGNAME', 'TMPDIR', 'LANG', 'LC_ALL', 'TZ']);
