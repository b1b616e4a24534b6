// Piped input for a run: the command reads a byte stream (then end of file) on its stdin instead of
// the terminal, as `cmd < file` or `producer | cmd` would give it. A terminal is the wrong carrier for
// that: its line discipline caps lines at 4 KiB, eats control bytes and has no end but ^D.
//
// The stream goes through a FIFO in a private 0700 directory outside any mount: the command line
// becomes `sh -c 'f=$1; shift; exec "$@" <"$f"' vws FIFO argv…` (the same process, its stdin
// redirected; sh named vws, so an error it reports never shows the FIFO's path), and this
// side writes the FIFO. Commands run in another process (the spawner), so only a file path crosses.
// The directory is named for its owner (`vws-stdin-PID-…`): one left by an owner killed with -9
// before the command opened the FIFO is removed by the next process that pipes stdin.

import { spawnSync } from 'node:child_process';
import { closeSync, constants, createWriteStream, lstatSync, mkdtempSync, openSync, readdirSync, rmdirSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { processAlive } from './process-alive.js';

export interface StdinPipe {
  /** argv that runs the given argv with its stdin from the FIFO. */
  wrap(argv: string[]): string[];
  /** Starts copying the source into the FIFO (the command's sh opens the other end). */
  start(): void;
  /** After the run: stops copying, unblocks a writer whose reader never came, removes the FIFO. */
  close(): void;
}

let swept = false;

export function stdinPipe(source: Readable): StdinPipe {
  if (!swept) {
    swept = true;
    sweepDeadStdinDirs();
  }
  const dir = mkdtempSync(join(tmpdir(), `vws-stdin-${process.pid}-`));
  const fifo = join(dir, 'stdin');
  // Node has no mkfifo; the helper runs with cwd '/', never inside a mount this process serves.
  const made = spawnSync('mkfifo', ['-m', '600', fifo], { cwd: '/', stdio: 'ignore' });
  if (made.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`cannot make a FIFO for stdin (mkfifo ${made.error?.message ?? `exited ${made.status}`})`);
  }
  let opened = false;
  let out: ReturnType<typeof createWriteStream> | undefined;
  const onData = (chunk: Buffer) => {
    if (out && !out.write(chunk)) source.pause();
  };
  const onEnd = () => out?.end();
  return {
    wrap: (argv) => ['/bin/sh', '-c', 'f=$1; shift; exec "$@" <"$f"', 'vws', fifo, ...argv],
    start() {
      // The open waits (in libuv's thread pool) until the command's sh opens the read end.
      out = createWriteStream(fifo);
      out.on('open', () => {
        opened = true;
        // Both ends are open (a FIFO's open waits for the other side): the name is not needed any
        // more, and a crash from here on leaves nothing in the temp directory.
        rmSync(dir, { recursive: true, force: true });
      });
      out.on('drain', () => source.resume());
      // The command exited or closed its stdin before reading everything: what is left is not wanted.
      out.on('error', () => source.off('data', onData).pause());
      source.on('data', onData);
      source.once('end', onEnd);
    },
    close() {
      source.off('data', onData).off('end', onEnd).pause();
      if (out && !opened) {
        // A reader that never came (the command died first): opening the read end without
        // blocking completes the writer's pending open, so no thread waits forever.
        try {
          closeSync(openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK));
        } catch {
          // already gone
        }
      }
      out?.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Removes the stdin directories (`vws-stdin-PID-…` in the temp dir) whose owner process is gone,
 * each only when it holds nothing but its FIFO. Returns what it removed.
 */
export function sweepDeadStdinDirs(): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(tmpdir());
  } catch {
    return removed;
  }
  for (const name of names) {
    const pid = /^vws-stdin-(\d+)-/.exec(name);
    if (!pid || processAlive(Number(pid[1]))) continue;
    const dir = join(tmpdir(), name);
    try {
      const entries = readdirSync(dir);
      if (entries.length > 1 || (entries.length === 1 && (entries[0] !== 'stdin' || !lstatSync(join(dir, 'stdin')).isFIFO()))) continue;
      if (entries.length) unlinkSync(join(dir, 'stdin'));
      rmdirSync(dir);
      removed.push(dir);
    } catch {
      // Another process's to clear (no permission), or cleared meanwhile.
    }
  }
  return removed;
}
