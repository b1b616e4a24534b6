// `vws daemon start | status | stop` (the daemon itself: daemon/main.ts and daemon/server.ts).
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { connect, startDaemon } from '../daemon/client.js';
import { allPidFiles, allSockets, frame, frameReader, pidFile, runDir, socketPath, type Reply } from '../daemon/protocol.js';
import { VaultError } from '../vault-store.js';
import { processAlive } from '../process-alive.js';

export interface Ctx {
  json(): boolean;
  print(doc: unknown, human: () => string): void;
}

type Status = Extract<Reply, { type: 'status' }>;

/** How long a daemon may take to answer status or stop before it counts as not answering. */
const ANSWER_MS = 3_000;

/**
 * The status of the daemon at path: null if nobody listens there (a dead daemon's socket and pid file
 * are removed), 'silent' if it accepts but does not answer within ANSWER_MS (a daemon stuck).
 */
async function statusAt(path: string): Promise<Status | null | 'silent'> {
  const socket = await connect(path);
  if (!socket) {
    rmSync(path, { force: true });
    return null;
  }
  return new Promise((resolve) => {
    let status: Status | null = null;
    const timer = setTimeout(() => (socket.destroy(), resolve('silent')), ANSWER_MS);
    socket.on('data', frameReader<Reply>((m) => m.type === 'status' && (status = m)));
    socket.on('error', () => {});
    socket.on('close', () => (clearTimeout(timer), resolve(status ?? 'silent')));
    socket.write(frame({ type: 'status' }));
  });
}

/** Asks the daemon at path to stop; resolves when it has hung up, or after ANSWER_MS. */
async function stopAt(path: string): Promise<void> {
  const socket = await connect(path);
  if (!socket) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => (socket.destroy(), resolve()), ANSWER_MS);
    socket.on('error', () => {});
    socket.on('close', () => (clearTimeout(timer), resolve()));
    socket.resume();
    socket.write(frame({ type: 'stop' }));
  });
}

/**
 * The pid the daemon at this socket recorded (run/exec-*.pid), if that process is alive and is that
 * daemon (its command line names the socket): so a daemon that does not answer can still be found.
 */
function daemonPid(socket: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile(socket), 'utf8'));
  } catch {
    return undefined;
  }
  try {
    return Number.isSafeInteger(pid) && pid > 0 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(socket) ? pid : undefined;
  } catch {
    return undefined;
  }
}

interface Found {
  socket: string;
  pid: number;
  status?: Status;
}

/** The daemons of this $VWS_HOME: those that answer (with status) and those alive but silent. */
async function findDaemons(): Promise<Found[]> {
  const found: Found[] = [];
  // A stuck daemon may have lost its socket: its pid file still names it.
  const sockets = new Set([...allSockets(), ...allPidFiles().map((f) => f.replace(/\.pid$/, '.sock'))]);
  for (const socket of sockets) {
    const s = await statusAt(socket);
    if (s && s !== 'silent') found.push({ socket, pid: s.pid, status: s });
    else {
      const pid = daemonPid(socket);
      if (pid) found.push({ socket, pid });
      else rmSync(pidFile(socket), { force: true });
    }
  }
  return found;
}

/** The daemons that answer in this $VWS_HOME, with their sockets (those of dead ones are removed). */
async function liveDaemons(): Promise<Array<Status & { socket: string }>> {
  return (await findDaemons()).flatMap((d) => (d.status ? [{ ...d.status, socket: d.socket }] : []));
}

/** One line for `vws doctor`, and whether all is well (a daemon that does not answer is not). */
export async function daemonSummary(): Promise<{ ok: boolean; detail: string }> {
  const found = await findDaemons();
  if (!found.length) return { ok: true, detail: 'no exec daemon running (the next vws exec starts one; VWS_DAEMON=0: none)' };
  const silent = found.filter((d) => !d.status);
  const detail = `${found.length} exec daemon(s): ${found.map((d) => (d.status ? `pid ${d.pid}, ${d.status.served} execs, vaults loaded: ${d.status.vaults.join(', ') || 'none'}` : `pid ${d.pid} NOT ANSWERING`)).join('; ')} (vws daemon stop ends them)`;
  return { ok: silent.length === 0, detail };
}

export function registerDaemon(program: Command, ctx: Ctx): void {
  const { print } = ctx;
  const daemon = program.command('daemon').description('the exec daemon that keeps vaults loaded between `vws exec` runs (VWS_DAEMON=0: none)');
  daemon
    .command('status')
    .description('the running exec daemons of this $VWS_HOME')
    .action(async () => {
      const current = socketPath();
      const daemons = (await liveDaemons()).map((s) => ({ pid: s.pid, socket: s.socket, current: s.socket === current, startedAt: s.startedAt, served: s.served, running: s.running, vaults: s.vaults, vaultBytes: s.vaultBytes, rssBytes: s.rssBytes, heapBytes: s.heapBytes, externalBytes: s.externalBytes }));
      print({ daemons }, () => (daemons.length ? daemons.map((d) => `pid ${d.pid}${d.current ? '' : ' (older build)'}: ${d.served} execs served, ${d.running} running, vaults loaded: ${d.vaults.join(', ') || 'none'}, ${Math.round(d.rssBytes / 2 ** 20)} MiB resident`).join('\n') : 'no exec daemon running'));
    });
  daemon
    .command('start')
    .description('start the exec daemon now (the first `vws exec` otherwise does), and wait until it answers')
    .action(async () => {
      const problem = (await import('@vws/fuse')).fuseProblem();
      if (problem) throw problem; // the daemon serves FUSE mounts; without them exec runs in-process
      const path = socketPath();
      const socket = (await connect(path)) ?? (await startDaemon(path));
      if (!socket) throw new VaultError(`the exec daemon did not start (see ${join(runDir(), 'daemon.log')})`, 1);
      socket.destroy();
      const s = await statusAt(path);
      const pid = s && s !== 'silent' ? s.pid : daemonPid(path);
      print({ pid, socket: path }, () => `exec daemon ${pid} serving ${path}`);
    });
  daemon
    .command('stop')
    .description('stop the exec daemons of this $VWS_HOME (a command still running is killed, its changes not saved)')
    .action(async () => {
      const stopped: number[] = [];
      for (const d of await findDaemons()) {
        // Asked first (it kills its commands and unmounts); one that does not answer, or does not
        // end within the deadline, is killed: stop never waits on a stuck daemon.
        if (d.status) await stopAt(d.socket);
        else signal(d.pid, 'SIGTERM');
        const deadline = Date.now() + STOP_MS;
        while (processAlive(d.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        if (processAlive(d.pid)) {
          signal(d.pid, 'SIGKILL');
          const gone = Date.now() + 2_000;
          while (processAlive(d.pid) && Date.now() < gone) await new Promise((r) => setTimeout(r, 20));
        }
        if (processAlive(d.pid)) throw new VaultError(`exec daemon ${d.pid} did not end even when killed`, 1);
        rmSync(d.socket, { force: true });
        rmSync(pidFile(d.socket), { force: true });
        stopped.push(d.pid);
      }
      print({ stopped }, () => (stopped.length ? `stopped exec daemon ${stopped.join(', ')}` : 'no exec daemon running'));
    });
}

/** How long `vws daemon stop` lets a daemon end by itself before killing it. */
const STOP_MS = 8_000;

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
}
