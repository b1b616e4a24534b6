// The spawner: a small process that forks commands for a PtySandbox. The process that holds the
// workspace (and serves its FUSE mount) never forks per command: forking it costs time in proportion
// to its size, and forking into its own mount can deadlock it. Messages arrive over the IPC channel.

import { keepWarm, launch, type Launched } from './launcher.js';
import type { ToSpawner, FromSpawner } from './spawner-protocol.js';

const running = new Map<number, Launched>();
// Once the sandbox is gone (it exited: a closed output pipe, a crash), what is left to say goes nowhere,
// quietly: the disconnect handler below is already ending everything.
const send = (m: FromSpawner) => {
  if (process.connected) process.send?.(m, undefined, {}, () => {});
};

process.on('message', (m: ToSpawner) => {
  switch (m.type) {
    case 'spawn': {
      launch(
        m.spec,
        (data) => send({ type: 'out', id: m.id, data }),
        (data) => send({ type: 'err', id: m.id, data }),
      ).then(
        (p) => {
          running.set(m.id, p);
          send({ type: 'spawned', id: m.id, pid: p.pid });
          void p.done.then((exit) => {
            running.delete(m.id);
            send({ type: 'exit', id: m.id, exitCode: exit.exitCode, signal: exit.signal });
          });
        },
        (e: Error) => send({ type: 'failed', id: m.id, message: e.message }),
      );
      break;
    }
    case 'write':
      running.get(m.id)?.write(m.data);
      break;
    case 'closeStdin':
      running.get(m.id)?.closeStdin();
      break;
    case 'signal':
      running.get(m.id)?.signal(m.signal);
      break;
    case 'resize':
      running.get(m.id)?.resize(m.cols, m.rows);
      break;
  }
});

// When the sandbox goes away, nothing it started may stay behind.
const shutdown = () => {
  keepWarm(false);
  const left = [...running.values()];
  for (const p of left) p.signal('SIGKILL');
  // Let each run finish its own cleanup (its FIFO directory), but never hang around.
  void Promise.race([Promise.all(left.map((p) => p.done)), new Promise((r) => setTimeout(r, 1000))]).then(() => process.exit(0));
};
process.on('disconnect', shutdown);
// Also when the parent vanished without the channel saying so (re-parented to init).
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) shutdown();
}, 2000).unref();
// Non-interactive runs find their bash started ahead (see launcher.ts: warm shells).
keepWarm(!process.argv.includes('--no-warm'));
send({ type: 'ready' });
