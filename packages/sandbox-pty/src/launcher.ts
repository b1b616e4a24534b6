// Launches one command under a pseudo-terminal with node-pty, keeping stdout and stderr apart.
//
// A PTY merges stdout and stderr, so bash sends fd 2 elsewhere before the command runs (stdout stays
// a terminal): a loopback connection back to this process that bash opens itself, or a FIFO under
// bubblewrap. That redirection lives in a small startup file given to bash as BASH_ENV, so the
// command line runs as `bash -c "<command>"` with nothing around it: bash execs its last command
// (no extra fork), and messages read `bash: line 1: ...` as in any shell.
//
// Complete output: node-pty can report exit before the last output has been read (measured: 36-61
// of 100 runs lost the tail of a 20 KiB write), so this process holds the terminal's slave side open
// itself. When the command has exited (its status comes straight from node-pty's waitpid thread),
// we write an end marker with a fresh nonce into the slave: everything the command wrote precedes it
// in the terminal's buffer, so a run is complete once the marker has been read back from the master.

import { closeSync, constants as fsc, createReadStream, createWriteStream, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, renameSync, rmSync, write as fsWrite, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { ReadStream as TtyReadStream } from 'node:tty';
import { bwrapPrefix, type ContainOptions } from './isolation.js';
import { newRunGroup } from './reaper.js';

const require = createRequire(import.meta.url);

/** node-pty's native binding (node-pty is pinned: its fork/resize signatures are those of 1.1.0). */
interface NativePty {
  fork(
    file: string,
    args: string[],
    env: string[],
    cwd: string,
    cols: number,
    rows: number,
    uid: number,
    gid: number,
    utf8: boolean,
    helperPath: string,
    onexit: (code: number, signal: number) => void,
  ): { fd: number; pid: number; pty: string };
  resize(fd: number, cols: number, rows: number): void;
}

let nativePty: { native: NativePty; helperPath: string } | undefined;
function loadPty(): { native: NativePty; helperPath: string } {
  if (nativePty) return nativePty;
  try {
    // The same loader node-pty's own UnixTerminal uses; we drive the binding directly to learn of
    // the exit at once (UnixTerminal holds it back until the terminal is closed).
    const utils = require('node-pty/lib/utils.js') as { loadNativeModule(name: string): { dir: string; module: NativePty } };
    const loaded = utils.loadNativeModule('pty');
    const libDir = dirname(require.resolve('node-pty/lib/utils.js'));
    nativePty = { native: loaded.module, helperPath: resolve(libDir, `${loaded.dir}/spawn-helper`) };
    return nativePty;
  } catch (e) {
    // node-pty compiles at install; where that failed (no C++ toolchain), its binding as built for
    // this platform ships in this package (scripts/prebuild.cjs: linux-x64, glibc).
    try {
      const dir = `../prebuilds/${process.platform}-${process.arch}`;
      nativePty = { native: require(`${dir}/pty.node`) as NativePty, helperPath: resolve(dirname(require.resolve(`${dir}/pty.node`)), 'spawn-helper') };
      return nativePty;
    } catch {
      throw new Error(`node-pty did not load (${(e as Error).message.split('\n')[0]}): reinstall dependencies with a C++ toolchain (python3, make, g++) present`);
    }
  }
}

/** An absolute bash (execvp would otherwise try every PATH entry first). */
const BASH = ['/usr/bin/bash', '/bin/bash'].find((p) => existsSync(p)) ?? 'bash';

const MARK = '\u001e\u001fvws-end:';
const MARK_END = '\u001f\u001e';
const READY = '\u001e\u001fvws-ready\u001f\u001e';
// The startup file (BASH_ENV) of every run. __vws_err says where stderr goes: 'tcp:PORT:TOKEN' (a
// loopback connection to this process, made by bash itself: no extra process; the first line names
// the run) or a FIFO path (made here with mkfifo; used where the run has no access to our loopback,
// as under bubblewrap's own network namespace). __vws_tty: an interactive run (echo and CR/LF
// translation off; stty is a process of its own, so other runs skip it and the launcher undoes the
// translation exactly instead). __vws_ready: print READY once stdin may be written (and the FIFOs
// opened). __vws_in, where stdin comes from: 'null' (/dev/null: end of file at once, as a one-shot
// command gets from Mastra's LocalSandbox), 'tcp' (the loopback connection that carries stderr also
// carries stdin the other way: bytes arrive unchanged, and a half-close is end of file), a FIFO path
// (the same under bubblewrap), or unset (the terminal). Then the caller's own BASH_ENV, if any, is
// put back and read, and our variables are gone before the command starts.
const BASH_ENV_FILE = [
  // First of all, join the run's cgroup (reaper.ts): everything started from here on stays in it.
  '[ -n "$__vws_cg" ] && { echo $$ >"$__vws_cg"; } 2>/dev/null',
  'if [ -n "$__vws_warm" ]; then',
  // A warm shell: connect, wait for the go-ahead, read cwd and command line (WARM_SCRIPT evals it).
  '  __vws_t=${__vws_err#tcp:}; exec 2>"/dev/tcp/127.0.0.1/${__vws_t%%:*}" || exit 125; printf \'%s\\n\' "${__vws_t#*:}" >&2',
  '  IFS= read -r -u 2 __vws_t || exit 125',
  "  { IFS= read -r -d '' __vws_t && IFS= read -r -d '' __vws_cmd; } <\"$__vws_warm\" || exit 125",
  '  cd -- "$__vws_t" || exit 1',
  // As in a shell started there: OLDPWD exported but not set.
  '  unset OLDPWD; export OLDPWD',
  'else',
  '[ -n "$__vws_tty" ] && stty -onlcr -echo 2>/dev/null',
  'case $__vws_err in',
  '  tcp:*) __vws_t=${__vws_err#tcp:}; exec 2>"/dev/tcp/127.0.0.1/${__vws_t%%:*}" || exit 125; printf \'%s\\n\' "${__vws_t#*:}" >&2 ;;',
  '  *) mkfifo -m 600 "$__vws_err" || exit 125; case $__vws_in in /*) mkfifo -m 600 "$__vws_in" || exit 125 ;; esac ;;',
  'esac',
  "[ -n \"$__vws_ready\" ] && printf '\\036\\037vws-ready\\037\\036'",
  'case $__vws_err in tcp:*) ;; *) exec 2>"$__vws_err" ;; esac',
  'fi',
  'case $__vws_in in null) exec 0</dev/null ;; tcp) exec 0<&2 ;; /*) exec 0<"$__vws_in" || exit 125 ;; esac',
  'if [ -n "$__vws_bash_env" ]; then BASH_ENV=$__vws_bash_env; else unset BASH_ENV; fi',
  'unset __vws_err __vws_tty __vws_ready __vws_bash_env __vws_t __vws_warm __vws_in __vws_cg',
  'if [ -n "$BASH_ENV" ]; then . "$BASH_ENV"; else :; fi',
  '',
].join('\n');

let bashEnvDir: string | undefined;
const BASH_ENV_NAME = `bash-env-${createHash('sha256').update(BASH_ENV_FILE).digest('hex').slice(0, 12)}`;

/** A private (0700, ours) directory: one per user, reused by every process (nothing to clean up). */
function privateDir(): string {
  const uid = process.getuid?.() ?? 0;
  const dir = join(tmpdir(), `vws-bash-env-${uid}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const st = lstatSync(dir);
  if (st.isDirectory() && st.uid === uid && (st.mode & 0o077) === 0) return dir;
  // Someone else's, or open to others: a fresh directory of our own instead, removed at exit.
  const own = mkdtempSync(join(tmpdir(), 'vws-bash-env-'));
  process.once('exit', () => rmSync(own, { recursive: true, force: true }));
  return own;
}

/** The startup file (named by its content, so versions never mix), made again if it went missing. */
function bashEnvFile(): string {
  const file = bashEnvDir && join(bashEnvDir, BASH_ENV_NAME);
  if (file && existsSync(file)) return file;
  bashEnvDir = privateDir();
  const tmp = join(bashEnvDir, `${BASH_ENV_NAME}.${process.pid}.tmp`);
  writeFileSync(tmp, BASH_ENV_FILE, { mode: 0o600 });
  renameSync(tmp, join(bashEnvDir, BASH_ENV_NAME)); // atomic: a concurrent reader sees all or nothing
  return join(bashEnvDir, BASH_ENV_NAME);
}

export interface LaunchSpec {
  /** A shell command line, or argv to exec directly (no shell: spaces in args are kept). */
  command: string | string[];
  cwd: string;
  env: Record<string, string>;
  /** Contain the run with bubblewrap: these paths stay writable, the rest of the host read-only. */
  contain?: { writable: string[] } & ContainOptions;
  cols?: number;
  rows?: number;
  /**
   * Whether stdin will be written (default true). Without `stdin`, false means stdin is /dev/null
   * and true a pipe.
   */
  interactive?: boolean;
  /**
   * Where the command's stdin comes from: 'null' (/dev/null, end of file at once), 'pipe' (bytes
   * written with write() arrive unchanged; closeStdin() is end of file) or 'terminal' (the PTY: echo
   * and CR/LF translation off, end of file is Ctrl-D). stdout is the terminal in every case.
   */
  stdin?: StdinMode;
  /** @internal Tests only: skip waiting for the end marker, to show the output loss it prevents. */
  noDrain?: boolean;
}

export type StdinMode = 'null' | 'pipe' | 'terminal';

/** The stdin a spec asks for. */
export function stdinModeOf(spec: Pick<LaunchSpec, 'stdin' | 'interactive'>): StdinMode {
  return spec.stdin ?? (spec.interactive === false ? 'null' : 'pipe');
}

export interface Launched {
  pid: number;
  /**
   * Resolves once the command has exited and all its output has been read. `lost` says why the
   * exit status is unknown (the spawner that ran the command died: the command was killed).
   */
  done: Promise<{ exitCode: number; signal?: number; lost?: string }>;
  write(data: string): void;
  /** End of input: the command reads end of file once it has read what was written. */
  closeStdin(): void;
  /** Sends a signal to the whole process group. */
  signal(sig: NodeJS.Signals): void;
  resize(cols: number, rows: number): void;
}

interface StderrChannel {
  /** Where the startup file sends stderr (__vws_err). */
  target: string;
  done: Promise<void>;
  open(): void;
  abandonIfUnopened(): void;
  /** Writes to the wrapper over the loopback connection, once it is there (warm runs' go-ahead; piped stdin). */
  send?(data: string): void;
  /** Half-closes the loopback connection (after what was sent): end of file on a piped stdin. */
  endInput?(): void;
  /** Whether the wrapper's connection has been claimed (loopback channels). */
  connected?(): boolean;
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
  let connected: Socket | undefined;
  let unsent: Buffer[] = [];
  let ended = false;
  waiting.set(token, (socket) => {
    connected = socket;
    for (const b of unsent) socket.write(b);
    unsent = [];
    if (ended) socket.end();
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
    send(data) {
      if (ended) return;
      const bytes = Buffer.from(data, 'utf8');
      if (connected) connected.write(bytes);
      else unsent.push(bytes);
    },
    connected: () => connected !== undefined,
    endInput() {
      if (ended) return;
      ended = true;
      connected?.end();
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

/** One bash on its own terminal, from fork until its output is drained; output sinks can be swapped. */
interface PtyRun {
  pid: number;
  done: Promise<{ exitCode: number; signal?: number }>;
  hasExited(): boolean;
  /** Routes output (and what arrived before) to these sinks. */
  attach(onStdout: (s: string) => void, onStderr: (s: string) => void): void;
  write(data: string): void;
  closeStdin(): void;
  signal(sig: NodeJS.Signals): void;
  resize(cols: number, rows: number): void;
}

interface PtyOptions {
  args: string[];
  env: Record<string, string>;
  cwd: string;
  cols: number;
  rows: number;
  stdin: StdinMode;
  stderr: StderrChannel;
  /** A private directory: bubblewrap runs (FIFO and startup file in it), removed at the end. */
  dir?: string;
  contain?: { writable: string[] } & ContainOptions;
  noDrain?: boolean;
}

function startPty(o: PtyOptions, sinks: { out: (s: string) => void; err: (s: string) => void }): PtyRun {
  const { native, helperPath } = loadPty();
  const { stderr, dir } = o;
  // Only a terminal stdin needs the terminal's own translation kept (echo and ONLCR are off there).
  const interactive = o.stdin === 'terminal';
  // READY is needed before a terminal stdin may be written (echo off) and before a FIFO can be opened.
  const expectReady = interactive || dir !== undefined;
  const stdinFifo = o.stdin === 'pipe' && dir ? join(dir, 'stdin') : undefined;
  const prefix = o.contain && dir ? bwrapPrefix(o.contain.writable, o.cwd, o.contain)(dir) : [];
  const [file, ...args] = [...prefix, BASH, ...o.args];
  // As node-pty's UnixTerminal: PWD is the cwd, TERM the terminal's name.
  const env: Record<string, string> = { ...o.env, PWD: o.cwd, TERM: 'xterm-256color', BASH_ENV: dir ? join(dir, 'bash-env') : bashEnvFile(), __vws_err: stderr.target };
  if (dir) writeFileSync(env.BASH_ENV!, BASH_ENV_FILE, { mode: 0o600 });
  if (o.env.BASH_ENV) env.__vws_bash_env = o.env.BASH_ENV;
  if (interactive) env.__vws_tty = '1';
  if (o.stdin === 'null') env.__vws_in = 'null';
  else if (o.stdin === 'pipe') env.__vws_in = stdinFifo ?? 'tcp';
  if (expectReady) env.__vws_ready = '1';
  // Without bubblewrap (whose PID namespace does this), a cgroup holds everything the run starts.
  const group = o.contain ? undefined : newRunGroup();
  if (group) env.__vws_cg = group.procs;
  const envList: string[] = [];
  for (const k in env) envList.push(`${k}=${env[k]}`);

  let exit: { exitCode: number; signal?: number } | undefined;
  let signalled = false;
  let onExit: () => void = () => {};
  let term: ReturnType<NativePty['fork']>;
  try {
    term = native.fork(file, args, envList, o.cwd, o.cols, o.rows, -1, -1, false, helperPath, (code, signal) => {
      exit = { exitCode: code, signal };
      onExit();
    });
  } catch (e) {
    void group?.remove();
    throw e;
  }
  // Hold the slave side: the terminal stays open past the command's exit, for the end marker.
  let slave: number | undefined;
  if (!o.noDrain) {
    try {
      slave = openSync(term.pty, fsc.O_RDWR | fsc.O_NOCTTY | fsc.O_NONBLOCK);
    } catch {
      // Without it, the run ends when the terminal closes (as with plain node-pty).
    }
  }
  const master = new TtyReadStream(term.fd);

  // stdout: the PTY, up to the end marker.
  const outDecoder = new StringDecoder('utf8');
  let pending = '';
  let ready = !expectReady;
  let mark: string | undefined;
  let finished = false;
  let finish: () => void = () => {};
  const drained = new Promise<void>((r) => (finish = r));
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
  const onData = (raw: Buffer) => {
    if (finished) return;
    pending += untranslate(outDecoder.write(raw));
    if (!ready) {
      const r = pending.indexOf(READY);
      if (r < 0) {
        // Killed before the wrapper got going: the end marker still ends the run (at once, not by the fallback timer).
        if (mark !== undefined && pending.includes(mark)) {
          pending = '';
          end();
        }
        return;
      }
      pending = pending.slice(r + READY.length);
      ready = true;
      stderr.open(); // a FIFO's read end opens once the wrapper has made it
      if (stdinFifo) openStdinFifo();
      for (const q of queued.splice(0)) writeStdin(q);
      if (stdinClosed) closeInput();
    }
    if (mark === undefined) {
      // Before the exit nothing can be the marker (its nonce does not exist yet): pass it all on.
      if (pending) sinks.out(pending);
      pending = '';
      return;
    }
    const at = pending.indexOf(mark);
    if (at >= 0) {
      if (at > 0) sinks.out(pending.slice(0, at));
      pending = '';
      end();
      return;
    }
    // Hold back a tail that could be the start of the marker split across reads.
    let cut = pending.length;
    for (let k = Math.min(pending.length, mark.length - 1); k > 0; k--) {
      if (mark.startsWith(pending.slice(pending.length - k))) {
        cut = pending.length - k;
        break;
      }
    }
    if (cut > 0) sinks.out(pending.slice(0, cut));
    pending = pending.slice(cut);
  };
  master.on('data', onData);
  // EAGAIN is a spurious wake-up; EIO means every slave is closed (the terminal has ended).
  master.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EAGAIN') end();
  });
  master.on('close', () => end());

  function end(): void {
    if (finished) return;
    finished = true;
    master.destroy();
    if (slave !== undefined) closeSync(slave);
    slave = undefined;
    finish();
  }

  // Stdin, in order; the master is non-blocking, so a full buffer is retried.
  const writes: Buffer[] = [];
  let writing = false;
  const pump = () => {
    if (writing || finished || !writes.length) return;
    writing = true;
    fsWrite(term.fd, writes[0]!, (err, n) => {
      writing = false;
      if (err) {
        if (err.code === 'EAGAIN') return void setTimeout(pump, 5);
        writes.length = 0;
        return;
      }
      if (n < writes[0]!.length) writes[0] = writes[0]!.subarray(n);
      else writes.shift();
      pump();
    });
  };
  function writeMaster(data: string): void {
    writes.push(Buffer.from(data, 'utf8'));
    pump();
  }

  // Piped stdin under bubblewrap: a FIFO the wrapper made, opened once it is there (READY).
  let fifoOut: ReturnType<typeof createWriteStream> | undefined;
  let fifoOpened = false;
  function openStdinFifo(): void {
    fifoOut = createWriteStream(stdinFifo!);
    fifoOut.on('open', () => (fifoOpened = true));
    fifoOut.on('error', () => {}); // the command is gone: what it did not read is not wanted
  }
  let stdinClosed = false;
  let midLine = false; // terminal stdin: the last byte written was not a newline
  function writeStdin(data: string): void {
    if (o.stdin === 'terminal') {
      if (data) midLine = !data.endsWith('\n');
      writeMaster(data);
    } else if (o.stdin === 'pipe') (fifoOut ? fifoOut.write(data) : stderr.send?.(data));
  }
  function closeInput(): void {
    // On a terminal, Ctrl-D ends input only at the start of a line; mid-line the first one flushes it.
    if (o.stdin === 'terminal') writeMaster(midLine ? '\u0004\u0004' : '\u0004');
    else if (fifoOut) fifoOut.end();
    else stderr.endInput?.();
  }

  const exited = new Promise<void>((r) => {
    onExit = r;
    if (exit) r();
  });
  const done = (async () => {
    await exited;
    // Nothing the command started outlives it (nohup, setsid and double forks included).
    group?.kill();
    if (o.noDrain) {
      // What a plain node-pty user may get: whatever was read by the exit event.
      end();
    } else if (slave !== undefined) {
      // Everything the command wrote is in the terminal ahead of this marker.
      mark = `${MARK}${randomBytes(6).toString('hex')}${MARK_END}`;
      const bytes = Buffer.from(mark, 'latin1');
      const put = (off: number): void => {
        if (slave === undefined) return;
        try {
          const n = writeSync(slave, bytes, off);
          if (off + n < bytes.length) setTimeout(() => put(off + n), 1);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'EAGAIN') setTimeout(() => put(off), 1);
          else end();
        }
      };
      put(0);
    }
    // The marker (or the terminal's end) normally comes within a read or two; never wait forever
    // (a command may leave the terminal stopped).
    const timer = setTimeout(end, 2000);
    await drained;
    clearTimeout(timer);
    if (heldCR) pending += '\r';
    if (pending) sinks.out(pending);
    pending = '';
    // Killed before the wrapper got going: no stderr channel will ever connect or open.
    if (!ready) stderr.abandonIfUnopened();
    // Killed by us before its loopback connection was claimed: a connection bash made is already in
    // the accept queue, so a moment is enough (not the full grace a natural exit gets).
    if (signalled && stderr.connected?.() === false) {
      await new Promise((r) => setTimeout(r, 10));
      if (!stderr.connected()) stderr.abandonIfUnopened();
    }
    await Promise.race([stderr.done, new Promise((r) => setTimeout(r, 200))]);
    stderr.abandonIfUnopened();
    if (fifoOut && !fifoOpened) {
      // A reader that never came: opening the read end without blocking completes the pending open.
      try {
        closeSync(openSync(stdinFifo!, fsc.O_RDONLY | fsc.O_NONBLOCK));
      } catch {
        // gone
      }
    }
    fifoOut?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
    void group?.remove();
    return exit!;
  })();

  return {
    pid: term.pid,
    done,
    hasExited: () => exit !== undefined,
    attach(onStdout, onStderr) {
      sinks.out = onStdout;
      sinks.err = onStderr;
    },
    // Piped stdin over the loopback needs no READY (the channel holds what comes early).
    write: (data) => (ready || (o.stdin === 'pipe' && !stdinFifo) ? writeStdin(data) : queued.push(data)),
    closeStdin: () => {
      if (stdinClosed) return;
      stdinClosed = true;
      if (ready || (o.stdin === 'pipe' && !stdinFifo)) closeInput();
    },
    signal: (sig) => {
      if (exit === undefined) signalled = true;
      if (sig === 'SIGKILL') group?.kill();
      try {
        process.kill(-term.pid, sig);
      } catch {
        // No such group: gone already, or so young that the child has not yet made its own session
        // (setsid right after fork; measured with two CPU hogs running: a kill right after the
        // spawn was lost in 15 and 26 of 150 runs). Then it has no children either: the process alone.
        try {
          process.kill(term.pid, sig);
        } catch {
          // gone
        }
      }
    },
    resize: (cols, rows) => {
      if (!finished) native.resize(term.fd, cols, rows);
    },
  };
}

// ------------------------------------------------------------------ warm shells
//
// In the spawner process, the next non-interactive run's bash is started ahead of time (after a
// run, for the same environment and terminal size): forking, exec and bash's start-up are then off
// the critical path. It waits, connected, with cwd '/' (it must not pin a mount) until the run
// writes its cwd and command line to a private file and sends a line over the loopback connection;
// it then cds there and evals the command line. Anything else (a different environment,
// interactive, bubblewrap) starts cold.

interface Warm {
  key: string;
  run: PtyRun;
  stderr: StderrChannel;
  file: string;
  /** Output before the run claims it (none is expected). */
  early: Array<['out' | 'err', string]>;
}

let warmEnabled = false;
let warm: Warm | undefined;
let warmSeq = 0;

/** Keeps a bash started ahead for the next non-interactive run (the spawner turns this on). */
export function keepWarm(on: boolean): void {
  warmEnabled = on;
  if (!on) dropWarm();
}

function dropWarm(): void {
  const w = warm;
  warm = undefined;
  w?.run.signal('SIGKILL');
}

function warmKey(spec: LaunchSpec): string | undefined {
  if (stdinModeOf(spec) !== 'null' || spec.contain || spec.noDrain) return undefined;
  return JSON.stringify([spec.cols ?? 200, spec.rows ?? 50, spec.env]);
}

const WARM_SCRIPT = 'eval "unset __vws_cmd;$__vws_cmd"';

async function startWarm(spec: LaunchSpec, key: string): Promise<void> {
  if (!warmEnabled || warm?.key === key) return;
  dropWarm();
  const early: Warm['early'] = [];
  const sinks = { out: (s: string) => void early.push(['out', s]), err: (s: string) => void early.push(['err', s]) };
  const stderr = await tcpChannel((s) => sinks.err(s));
  if (!warmEnabled || warm) return stderr.abandonIfUnopened();
  const file = join(dirname(bashEnvFile()), `run-${process.pid}-${++warmSeq}`);
  let run: PtyRun;
  try {
    run = startPty({ args: ['-c', WARM_SCRIPT, 'bash'], env: { ...spec.env, __vws_warm: file }, cwd: '/', cols: spec.cols ?? 200, rows: spec.rows ?? 50, stdin: 'null', stderr }, sinks);
  } catch {
    return stderr.abandonIfUnopened();
  }
  const w: Warm = { key, run, stderr, file, early };
  warm = w;
  void run.done.then(() => {
    if (warm === w) warm = undefined;
    rmSync(file, { force: true });
  });
}

const shellQuote = (a: string) => `'${a.replaceAll("'", "'\\''")}'`;

export async function launch(spec: LaunchSpec, onStdout: (s: string) => void, onStderr: (s: string) => void): Promise<Launched> {
  const key = warmKey(spec);
  let run: PtyRun;
  const w = warm;
  let claimed = false;
  if (key && w && w.key === key && !w.run.hasExited()) {
    warm = undefined;
    const line = typeof spec.command === 'string' ? spec.command : spec.command.map(shellQuote).join(' ');
    try {
      writeFileSync(w.file, `${spec.cwd}\0${line}\0`, { mode: 0o600 });
      claimed = true;
    } catch {
      w.run.signal('SIGKILL'); // its directory went away: start cold
    }
  }
  if (claimed && w) {
    w.stderr.send!('\n');
    run = w.run;
    run.attach(onStdout, onStderr);
    for (const [kind, s] of w.early.splice(0)) (kind === 'out' ? onStdout : onStderr)(s);
  } else {
    // Under bubblewrap the run has its own network namespace: our loopback is out of reach, so
    // stderr goes through a FIFO in a private directory (bound into the container).
    const dir = spec.contain ? mkdtempSync(join(tmpdir(), 'vws-pty-')) : undefined;
    const sinks = { out: onStdout, err: onStderr };
    const stderr = dir ? readFifoOnce(join(dir, 'stderr'), (s) => sinks.err(s)) : await tcpChannel((s) => sinks.err(s));
    // A command line runs as bash's own -c string; argv as "$@", a single simple command that bash
    // execs (or runs as a builtin) without forking. $0 is 'bash' either way.
    const args = typeof spec.command === 'string' ? ['-c', spec.command, 'bash'] : ['-c', '"$@"', 'bash', ...spec.command];
    run = startPty({ args, env: spec.env, cwd: spec.cwd, cols: spec.cols ?? 200, rows: spec.rows ?? 50, stdin: stdinModeOf(spec), stderr, dir, contain: spec.contain, noDrain: spec.noDrain }, sinks);
  }
  // The next run like this one finds its bash started. Started now, it overlaps this run (on our
  // own time: started after it, it would compete with whatever the caller does next).
  if (key && warmEnabled) setImmediate(() => void startWarm(spec, key));
  return { pid: run.pid, done: run.done, write: run.write, closeStdin: run.closeStdin, signal: run.signal, resize: run.resize };
}
