// `vws daemon start | status | stop` (the daemon itself: daemon/main.ts and daemon/server.ts).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { connect, startDaemon } from '../daemon/client.js';
import { allSockets, frame, frameReader, runDir, socketPath, type Reply } from '../daemon/protocol.js';
import { VaultError } from '../vault-store.js';
import { processAlive } from '../process-alive.js';

export interface Ctx {
  json(): boolean;
  print(doc: unknown, human: () => string): void;
}

type Status = Extract<Reply, { type: 'status' }>;

/** The status of the daemon at path; null if nobody answers there (a dead daemon's socket is removed). */
async function statusAt(path: string): Promise<Status | null> {
  const socket = await connect(path);
  if (!socket) {
    rmSync(path, { force: true });
    return null;
  }
  return new Promise((resolve) => {
    let status: Status | null = null;
    socket.on('data', frameReader<Reply>((m) => m.type === 'status' && (status = m)));
    socket.on('error', () => {});
    socket.on('close', () => resolve(status));
    socket.write(frame({ type: 'status' }));
  });
}

/** Asks the daemon at path to stop; resolves when it has hung up. */
async function stopAt(path: string): Promise<void> {
  const socket = await connect(path);
  if (!socket) return;
  await new Promise<void>((resolve) => {
    socket.on('error', () => {});
    socket.on('close', () => resolve());
    socket.resume();
    socket.write(frame({ type: 'stop' }));
  });
}

/** The daemons that answer in this $VWS_HOME, with their sockets (those of dead ones are removed). */
async function liveDaemons(): Promise<Array<Status & { socket: string }>> {
  const live = [];
  for (const socket of allSockets()) {
    const s = await statusAt(socket);
    if (s) live.push({ ...s, socket });
  }
  return live;
}

/** One line for `vws doctor`. */
export async function daemonSummary(): Promise<string> {
  const live = await liveDaemons();
  if (!live.length) return 'no exec daemon running (the next vws exec starts one; VWS_DAEMON=0: none)';
  return `${live.length} exec daemon(s): ${live.map((s) => `pid ${s.pid}, ${s.served} execs, vaults loaded: ${s.vaults.join(', ') || 'none'}`).join('; ')} (vws daemon stop ends them)`;
}

export function registerDaemon(program: Command, ctx: Ctx): void {
  const { print } = ctx;
  const daemon = program.command('daemon').description('the exec daemon that keeps vaults loaded between `vws exec` runs (VWS_DAEMON=0: none)');
  daemon
    .command('status')
    .description('the running exec daemons of this $VWS_HOME')
    .action(async () => {
      const current = socketPath();
      const daemons = (await liveDaemons()).map((s) => ({ pid: s.pid, socket: s.socket, current: s.socket === current, startedAt: s.startedAt, served: s.served, running: s.running, vaults: s.vaults, rssBytes: s.rssBytes }));
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
      print({ pid: s?.pid, socket: path }, () => `exec daemon ${s?.pid} serving ${path}`);
    });
  daemon
    .command('stop')
    .description('stop the exec daemons of this $VWS_HOME (a command still running is killed, its changes not saved)')
    .action(async () => {
      const stopped: number[] = [];
      for (const s of await liveDaemons()) {
        await stopAt(s.socket);
        // Wait for the process itself: it may still be unmounting.
        const deadline = Date.now() + 10_000;
        while (processAlive(s.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        stopped.push(s.pid);
      }
      print({ stopped }, () => (stopped.length ? `stopped exec daemon ${stopped.join(', ')}` : 'no exec daemon running'));
    });
}
