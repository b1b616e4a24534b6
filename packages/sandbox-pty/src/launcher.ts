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
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
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
// $1 = where stderr goes: 'tcp:PORT:TOKEN' (a loopback connection to this process, made by bash
// itself: no extra process) or a FIFO path (made here with mkfifo; used where the run has no access to
// our loopback, as under bubblewrap's own network namespace). $2 = 'shell' ($3 is a command line) or
// 'exec' ($3... is argv). $0 (the name bash gives the script) says whether to run stty.
const READY = '\u001e\u001fvws-ready\u001f\u001e';
const WRAPPER = [
  // Interactive runs turn off echo and CR/LF translation (stty is a process of its own, so
  // non-interactive runs skip it: the launcher undoes the translation exactly instead).
  '[ "$0" = vws-tty ] && stty -onlcr -echo 2>/dev/null',
  'case "$1" in',
  '  tcp:*) rest=${1#tcp:}; exec 2>"/dev/tcp/127.0.0.1/${rest%%:*}" || exit 125; printf \'%s\\n\' "${rest#*:}" >&2 ;;',
  '  *) mkfifo -m 600 "$1" || exit 125 ;;',
  'esac',
  // READY: the launcher may now open the FIFO, and stdin is no longer echoed.
  "printf '\\036\\037vws-ready\\037\\036'",
  'case "$1" in tcp:*) ;; *) exec 2>"$1" ;; esac',
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
  /**
   * Whether stdin will be written (default true): then echo is turned off. A non-interactive run
   * skips that (one process fewer) and gets its output's CR/LF translation undone exactly.
   */
  interactive?: boolean;
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

interface StderrChannel {
  /** What the wrapper gets as $1. */
  target: string;
  done: Promise<void>;
  open(): void;
  abandonIfUnopened(): void;
}

// One loopback server per process takes every run's stderr connection; the first line names the run.
const waiting = new Map<string, (socket: Socket) => void>();
let server: Promise<number> | undefined;
function stderrServer(): Promise<number> {
  server ??= new Promise((resolve, reject) => {
    const srv = createServer((socket) => {
      let head = '';
      const onData = (d: Buffer) => {
        head += d.toString('latin1');
        const nl = head.indexOf('\n');
        if (nl < 0) {
          if (head.length > 64) socket.destroy();
          return;
        }
        socket.off('data', onData);
        const claim = waiting.get(head.slice(0, nl));
        if (!claim) return socket.destroy();
        waiting.delete(head.slice(0, nl));
        const rest = Buffer.from(head.slice(nl + 1), 'latin1');
        claim(socket);
        if (rest.length) socket.emit('data', rest);
      };
      socket.on('data', onData);
      socket.on('error', () => socket.destroy());
    });
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve((srv.address() as AddressInfo).port));
  });
  return server;
}

/** stderr over a loopback connection the wrapper opens with bash's /dev/tcp. */
async function tcpChannel(onData: (s: string) => void): Promise<StderrChannel> {
  const port = await stderrServer();
  const token = randomBytes(12).toString('hex');
  const decoder = new StringDecoder('utf8');
  let finish: () => void = () => {};
  const done = new Promise<void>((r) => (finish = r));
  let connected = false;
  waiting.set(token, (socket) => {
    connected = true;
    socket.on('data', (d: Buffer) => {
      const str = decoder.write(d);
      if (str) onData(str);
    });
    socket.on('close', () => {
      const str = decoder.end();
      if (str) onData(str);
      finish();
    });
  });
  return {
    target: `tcp:${port}:${token}`,
    done,
    open() {},
    abandonIfUnopened() {
      if (connected) return;
      waiting.delete(token);
      finish();
    },
  };
}

/** Reads a FIFO from when open() is called until the writer closes it. */
function readFifoOnce(path: string, onData: (s: string) => void): StderrChannel {
  const decoder = new StringDecoder('utf8');
  let opened = false;
  let finish: () => void = () => {};
  const done = new Promise<void>((r) => (finish = r));
  return {
    target: path,
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

export async function launch(spec: LaunchSpec, onStdout: (s: string) => void, onStderr: (s: string) => void): Promise<Launched> {
  const pty = loadPty();
  // Under bubblewrap the run has its own network namespace: our loopback is out of reach, so stderr
  // goes through a FIFO in a private directory (bound into the container).
  const dir = spec.contain ? mkdtempSync(join(tmpdir(), 'vws-pty-')) : undefined;
  const stderr = dir ? readFifoOnce(join(dir, 'stderr'), onStderr) : await tcpChannel(onStderr);
  const argv = typeof spec.command === 'string' ? ['shell', spec.command] : ['exec', ...spec.command];
  const interactive = spec.interactive !== false;
  const inner = ['bash', '-c', WRAPPER, interactive ? 'vws-tty' : 'vws-raw', stderr.target, ...argv];
  const prefix = spec.contain && dir ? bwrapPrefix(spec.contain.writable, spec.cwd)(dir) : [];
  const [file, ...args] = [...prefix, ...inner];
  const term = pty.spawn(file, args, { name: 'xterm-256color', cols: spec.cols ?? 200, rows: spec.rows ?? 50, cwd: spec.cwd, env: spec.env, encoding: null });

  // stdout: the PTY, minus the sentinel that carries the exit status.
  const outDecoder = new StringDecoder('utf8');
  let pending = '';
  let sentinelCode: number | undefined;
  let sawSentinel: () => void = () => {};
  const sentinel = new Promise<void>((r) => (sawSentinel = r));
  let ready = false;
  const queued: string[] = [];
  // The terminal turns every \n into \r\n (ONLCR); each \r\n in the stream therefore came from a
  // \n, and mapping \r\n back to \n restores the bytes exactly (a \r at a chunk end waits).
  let heldCR = false;
  const untranslate = (chunk: string) => {
    if (interactive) return chunk;
    let t = heldCR ? `\r${chunk}` : chunk;
    heldCR = t.endsWith('\r');
    if (heldCR) t = t.slice(0, -1);
    return t.replaceAll('\r\n', '\n');
  };
  term.onData((raw: string | Buffer) => {
    if (sentinelCode !== undefined) return;
    pending += untranslate(typeof raw === 'string' ? raw : outDecoder.write(raw));
    if (!ready) {
      const r = pending.indexOf(READY);
      if (r < 0) return;
      pending = pending.slice(r + READY.length);
      ready = true;
      stderr.open(); // a FIFO's read end opens once the wrapper has made it
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
    // Killed before the wrapper got going: no stderr channel will ever connect or open.
    if (!ready) stderr.abandonIfUnopened();
    if (spec.noDrain) {
      // What a plain node-pty user gets: whatever was read by the exit event.
      void stderr.done.then(() => dir && rmSync(dir, { recursive: true, force: true }));
      return exit;
    }
    // Normal completion: wait for the sentinel (the tail of the output). Killed: there is none;
    // give the PTY a moment to drain what it has.
    await Promise.race([sentinel, new Promise((r) => setTimeout(r, exit.signal ? 50 : 2000))]);
    if (heldCR) pending += '\r';
    if (pending) onStdout(pending);
    await Promise.race([stderr.done, new Promise((r) => setTimeout(r, 200))]);
    if (dir) rmSync(dir, { recursive: true, force: true });
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
