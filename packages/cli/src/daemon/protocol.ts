// The wire between the `vws` client and the exec daemon, over a Unix socket in $VWS_HOME/run/:
// frames of [kind: u8][length: u32 BE][payload], kind 0 a JSON message, 1 and 2 a command's stdout
// and stderr, 3 its stdin, as raw bytes (a flood is copied, never escaped and parsed); an empty
// stdin frame is the end of the input. The socket is named for the code that serves it
// (codeStamp), so a client never talks to a daemon of another build: after a rebuild or an edit, the
// next exec starts a new daemon and the old one idles out. Only Node's built-ins here: the client
// loads this on every exec.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecSettings } from '../exec-env.js';

/** What the client asks. */
export type Request =
  | {
      type: 'exec';
      /** --vault, else $VWS_VAULT of the client; the daemon falls back to `vws vault use`. */
      vault?: string;
      json: boolean;
      /** Colour the change summary (the client's terminal decides). */
      color: boolean;
      argv: string[];
      lockWaitMs?: number;
      /** The client's stdin is piped (not a terminal): stdin frames follow, then an empty one. */
      stdin?: boolean;
      /** The client's environment for the command, cwd and cache choice (the daemon's own is never used). */
      settings: ExecSettings;
      /** The full change list, not only the summary line. */
      verbose?: boolean;
    }
  | { type: 'stdin'; data: Uint8Array }
  | { type: 'status' }
  | { type: 'stop' };

/** What the daemon answers: output as it comes, then one exit; or a status. */
export type Reply =
  | { type: 'stdout' | 'stderr'; data: string | Uint8Array }
  | { type: 'exit'; code: number }
  | { type: 'status'; pid: number; stamp: string; startedAt: string; served: number; running: number; vaults: string[]; vaultBytes?: number; rssBytes: number; heapBytes?: number; externalBytes?: number };

/** The home's absolute path: a relative $VWS_HOME is the client's, and the daemon runs in '/'. */
export function homeDir(): string {
  return resolve(process.env.VWS_HOME || join(homedir(), '.vws'));
}

export function runDir(): string {
  return join(homeDir(), 'run');
}

export function socketPath(stamp = codeStamp()): string {
  return join(runDir(), `exec-${stamp}.sock`);
}

/** Where the daemon at a socket records its pid (so a daemon that stopped answering can be found). */
export function pidFile(socket: string): string {
  return socket.replace(/\.sock$/, '.pid');
}

/** Every exec daemon pid file in this $VWS_HOME. */
export function allPidFiles(): string[] {
  const dir = runDir();
  return existsSync(dir) ? readdirSync(dir).filter((f) => /^exec-.*\.pid$/.test(f)).map((f) => join(dir, f)) : [];
}

/** Every exec daemon socket in this $VWS_HOME (daemons of older builds included). */
export function allSockets(): string[] {
  const dir = runDir();
  return existsSync(dir) ? readdirSync(dir).filter((f) => /^exec-.*\.sock$/.test(f)).map((f) => join(dir, f)) : [];
}

let stamp: string | undefined;
/**
 * Names the code this process runs: the build time of the CLI bundle (dist/inputs.json beside it),
 * or, from the sources, the newest modification time among the workspace packages' sources.
 */
export function codeStamp(): string {
  if (stamp) return stamp;
  const here = dirname(fileURLToPath(import.meta.url));
  const inputs = join(here, 'inputs.json');
  if (import.meta.url.endsWith('.js') && existsSync(inputs)) {
    stamp = `b${(JSON.parse(readFileSync(inputs, 'utf8')) as { builtAt: number }).builtAt}`;
  } else {
    const packages = join(here, '../../..');
    let newest = 0;
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
      }
    };
    for (const pkg of readdirSync(packages)) if (existsSync(join(packages, pkg, 'src'))) walk(join(packages, pkg, 'src'));
    stamp = `s${Math.floor(newest)}`;
  }
  return stamp;
}

const JSON_FRAME = 0;
const BYTES_FRAME = { stdout: 1, stderr: 2, stdin: 3 } as const;
const BYTES_TYPE = ['', 'stdout', 'stderr', 'stdin'] as const;
/** A frame larger than this is no frame of ours. */
const MAX_FRAME = 256 << 20;

export function frame(m: Request | Reply): Buffer {
  const [kind, payload] = m.type === 'stdout' || m.type === 'stderr' || m.type === 'stdin' ? [BYTES_FRAME[m.type], Buffer.from(m.data)] : [JSON_FRAME, Buffer.from(JSON.stringify(m))];
  const head = Buffer.allocUnsafe(5);
  head[0] = kind;
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

/** Splits a byte stream into messages (stdout, stderr and stdin as Buffers); a malformed stream throws. */
export function frameReader<T>(onMessage: (m: T) => void): (chunk: Buffer) => void {
  let chunks: Buffer[] = [];
  let size = 0;
  return (chunk) => {
    chunks.push(chunk);
    size += chunk.length;
    while (size >= 5) {
      if (chunks[0].length < 5) chunks = [Buffer.concat(chunks)];
      const kind = chunks[0][0];
      const length = chunks[0].readUInt32BE(1);
      if (kind > 3 || length > MAX_FRAME) throw new Error(`not a vws daemon frame (kind ${kind}, ${length} bytes)`);
      if (size < 5 + length) return;
      const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      const payload = all.subarray(5, 5 + length);
      const rest = all.subarray(5 + length);
      chunks = rest.length ? [rest] : [];
      size = rest.length;
      onMessage((kind === JSON_FRAME ? JSON.parse(payload.toString('utf8')) : { type: BYTES_TYPE[kind], data: payload }) as T);
    }
  };
}
