// Launches one command under a pseudo-terminal with node-pty, keeping stdout and stderr apart.
//
// A PTY merges stdout and stderr, so a small bash wrapper sends fd 2 to a FIFO that we read
// separately (stdout stays a terminal). The wrapper also turns off CR/LF translation and echo, and
// prints a sentinel with the exit status after the command: node-pty can report exit before the last
// output has been read (measured: 36-61 of 100 runs lost the tail of a 20 KiB write), so a run is only
// complete once the sentinel has arrived — everything the command wrote precedes it on the PTY.

import { mkdtempSync, rmSync } from 'node:fs';
import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { bwrapPrefix } from './isolation.js';

const require = createRequire(import.meta.url);

interface IPty {
  pid: number;
  write(data: string): void;
  resize(cols: number, rows: number): void;
  kill(signal?: string): void;
  onData(cb: (data: string) => void): { dispose(): void };
  onExit(cb: (e: { exitCode: number; signal?: number }) => void): { dispose(): void };
}
interface NodePty {
  spawn(file: string, args: string[], options: { name: string; cols: number; rows: number; cwd: string; env: Record<string, string>; encoding: null | string }): IPty;
}

let nodePty: NodePty | undefined;
function loadPty(): NodePty {
  if (nodePty) return nodePty;
  try {
    nodePty = require('node-pty') as NodePty;
    return nodePty;
  } catch (e) {
    throw new Error(`node-pty did not load (${(e as Error).message.split('\n')[0]}): reinstall dependencies with a C++ toolchain (python3, make, g++) present`);
  }
}

const SENTINEL = '\u001e\u001fvws-exit:';
const SENTINEL_END = '\u001f\u001e';
// $1 = stderr FIFO, $2 = mode ('shell': $3 is a shell command line; 'exec': $3... is argv).
const READY = '\u001e\u001fvws-ready\u001f\u001e';
const WRAPPER = [
  'stty -onlcr -echo 2>/dev/null',
  // The stderr FIFO is made here (an exec in this small child, not a fork of the node process);
  // READY tells the launcher to open its end, and holds stdin back until echo is off.
  'mkfifo -m 600 "$1" || exit 125',
  "printf '\\036\\037vws-ready\\037\\036'",
  'exec 2>"$1"',
  // A subshell (a fork, no exec) keeps an `exit` in the command from skipping the sentinel.
  'if [ "$2" = shell ]; then (eval "$3"); else shift 2; "$@"; fi',
  'rc=$?',
  `printf '${SENTINEL.replace('\u001e', '\\036').replace('\u001f', '\\037')}%d${SENTINEL_END.replace('\u001f', '\\037').replace('\u001e', '\\036')}' "$rc"`,
].join('\n');

export interface LaunchSpec {
  /** A shell command line, or argv to exec directly (no shell: spaces in args are kept). */
  command: string | string[];
  cwd: string;
  env: Record<string, string>;
  /** Contain the run with bubblewrap: these paths stay writable, the rest of the host read-only. */
  contain?: { writable: string[] };
  cols?: number;
  rows?: number;
  /** @internal Tests only: skip waiting for the sentinel, to show the output loss it prevents. */
  noDrain?: boolean;
}

export interface Launched {
  pid: number;
  /** Resolves once the command has exited and all its output has been read. */
  done: Promise<{ exitCode: number; signal?: number }>;
  write(data: string): void;
  /** Sends a signal to the whole process group. */
  signal(sig: NodeJS.Signals): void;
  resize(cols: number, rows: number): void;
}

/** Reads a FIFO from when open() is called until the writer closes it. */
function readFifoOnce(path: string, onData: (s: string) => void) {
  const decoder = new StringDecoder('utf8');
  let opened = false;
  let finish: () => void = () => {};
  const done = new Promise<void>((r) => (finish = r));
  return {
    done,
    open() {
      if (opened) return;
      opened = true;
      const stream = createReadStream(path);
      stream.on('data', (d) => {
        const s = decoder.write(d as Buffer);
        if (s) onData(s);
      });
      stream.on('error', () => finish());
      stream.on('close', () => {
        const s = decoder.end();
        if (s) onData(s);
        finish();
      });
    },
    abandonIfUnopened() {
      if (!opened) finish();
    },
  };
}

export function launch(spec: LaunchSpec, onStdout: (s: string) => void, onStderr: (s: string) => void): Launched {
  const pty = loadPty();
  const dir = mkdtempSync(join(tmpdir(), 'vws-pty-'));
  const fifo = join(dir, 'stderr');
  const argv = typeof spec.command === 'string' ? ['shell', spec.command] : ['exec', ...spec.command];
  const inner = ['bash', '-c', WRAPPER, 'vws-wrapper', fifo, ...argv];
  const prefix = spec.contain ? bwrapPrefix(spec.contain.writable, spec.cwd)(dir) : [];
  const [file, ...args] = [...prefix, ...inner];
  const term = pty.spawn(file, args, { name: 'xterm-256color', cols: spec.cols ?? 200, rows: spec.rows ?? 50, cwd: spec.cwd, env: spec.env, encoding: null });

  // stderr: the FIFO, opened once the wrapper has made it (READY). The open completes when the
  // wrapper opens its end; it runs in libuv's thread pool, so nothing blocks here.
  const stderr = readFifoOnce(fifo, onStderr);

  // stdout: the PTY, minus the sentinel that carries the exit status.
  const outDecoder = new StringDecoder('utf8');
  let pending = '';
  let sentinelCode: number | undefined;
  let sawSentinel: () => void = () => {};
  const sentinel = new Promise<void>((r) => (sawSentinel = r));
  let ready = false;
  const queued: string[] = [];
  term.onData((raw: string | Buffer) => {
    if (sentinelCode !== undefined) return;
    pending += typeof raw === 'string' ? raw : outDecoder.write(raw);
    if (!ready) {
      const r = pending.indexOf(READY);
      if (r < 0) return;
      pending = pending.slice(r + READY.length);
      ready = true;
      stderr.open();
      for (const q of queued.splice(0)) term.write(q);
    }
    const at = pending.indexOf(SENTINEL);
    if (at >= 0) {
      const end = pending.indexOf(SENTINEL_END, at);
      if (end < 0) return; // the rest of the sentinel is on its way
      if (at > 0) onStdout(pending.slice(0, at));
      sentinelCode = Number(pending.slice(at + SENTINEL.length, end));
      pending = '';
      sawSentinel();
      return;
    }
    // Hold back a tail that could be the start of a sentinel split across reads.
    const keep = Math.min(pending.length, SENTINEL.length - 1);
    let cut = pending.length;
    for (let k = keep; k > 0; k--) {
      if (SENTINEL.startsWith(pending.slice(pending.length - k))) {
        cut = pending.length - k;
        break;
      }
    }
    if (cut > 0) onStdout(pending.slice(0, cut));
    pending = pending.slice(cut);
  });

  const exited = new Promise<{ exitCode: number; signal?: number }>((resolve) => term.onExit((e) => resolve(e)));
  const done = (async () => {
    const exit = await exited;
    stderr.abandonIfUnopened(); // killed before the FIFO existed: no stderr to wait for
    if (spec.noDrain) {
      // What a plain node-pty user gets: whatever was read by the exit event.
      void stderr.done.then(() => rmSync(dir, { recursive: true, force: true }));
      return exit;
    }
    // Normal completion: wait for the sentinel (the tail of the output). Killed: there is none;
    // give the PTY a moment to drain what it has.
    await Promise.race([sentinel, new Promise((r) => setTimeout(r, exit.signal ? 50 : 2000))]);
    if (pending) onStdout(pending);
    await Promise.race([stderr.done, new Promise((r) => setTimeout(r, 200))]);
    rmSync(dir, { recursive: true, force: true });
    if (sentinelCode !== undefined && !exit.signal) return { exitCode: sentinelCode };
    return exit;
  })();

  return {
    pid: term.pid,
    done,
    write: (data) => (ready ? term.write(data) : queued.push(data)),
    signal: (sig) => {
      try {
        process.kill(-term.pid, sig);
      } catch {
        // The group is gone already.
      }
    },
    resize: (cols, rows) => term.resize(cols, rows),
  };
}
