// Progress bars for long imports, exports and checkpoints: only on a TTY (never in --json, pipes or
// tests), so scripted output stays one clean document.
import { createRequire } from 'node:module';

// cli-progress loads only when a bar is shown: start-up is most of a command's time.
const require = createRequire(import.meta.url);

export interface Progress {
  tick(n?: number): void;
  stop(): void;
}

const silent: Progress = { tick() {}, stop() {} };

/** A bar on stderr when it is a terminal and the work is big enough to be worth watching. */
export function progress(label: string, total: number, opts: { json: boolean; min?: number }): Progress {
  if (opts.json || !process.stderr.isTTY || total < (opts.min ?? 500)) return silent;
  const cliProgress = require('cli-progress') as typeof import('cli-progress');
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% {value}/{total} files`, stream: process.stderr, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  let done = 0;
  return {
    tick(n = 1) {
      done += n;
      // Redrawing on every file costs more than the file itself: update every 1%.
      if (done === total || done % Math.max(1, Math.floor(total / 100)) === 0) bar.update(done);
    },
    stop() {
      bar.update(done);
      bar.stop();
    },
  };
}
