// The wire between the `vws` client and the exec daemon: one JSON document a line over a Unix socket
// in $VWS_HOME/run/. The socket is named for the code that serves it (codeStamp), so a client never
// talks to a daemon of another build: after a rebuild or an edit, the next exec starts a new daemon
// and the old one idles out. Only Node's built-ins here: the client loads this on every exec.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { fileURLToPath } from 'node:url';

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
    }
  | { type: 'status' }
  | { type: 'stop' };

/** What the daemon answers: output as it comes, then one exit; or a status. */
export type Reply =
  | { type: 'stdout'; data: string }
  | { type: 'stderr'; data: string }
  | { type: 'exit'; code: number }
  | { type: 'status'; pid: number; stamp: string; startedAt: string; served: number; running: number; vaults: string[] };

export function runDir(): string {
  return join(process.env.VWS_HOME || join(homedir(), '.vws'), 'run');
}

export function socketPath(stamp = codeStamp()): string {
  return join(runDir(), `exec-${stamp}.sock`);
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

/** Splits a byte stream into JSON lines. */
export function lineReader<T>(onMessage: (m: T) => void): (chunk: Buffer) => void {
  const decoder = new StringDecoder('utf8'); // a character may straddle two chunks
  let buffered = '';
  return (chunk) => {
    buffered += decoder.write(chunk);
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line) onMessage(JSON.parse(line) as T);
    }
  };
}

export const line = (m: Request | Reply): string => `${JSON.stringify(m)}\n`;
