// Last-chance cleanup when the process ends: on exit, and on SIGINT/SIGTERM/SIGHUP, after which the
// process still dies by that signal unless someone else handles it.

import { isMainThread } from 'node:worker_threads';

/** Runs `cleanup` (synchronously) at exit and on fatal signals. Signals reach the main thread only. */
export function onProcessEnd(cleanup: () => void): void {
  process.on('exit', cleanup);
  if (!isMainThread) return;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      cleanup();
      process.off(signal, onSignal);
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}
