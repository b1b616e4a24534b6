// Which Postgres failures a retry can help with, and the backoff between attempts.

import { StoreConfigError, StoreError, StoreUnavailableError } from '@vws/store';

export interface RetryOptions {
  /** Attempts in all, the first included (default 5). */
  attempts: number;
  /** First pause; doubled each time up to maxMs, with jitter (default 50 ms, 2 s). */
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { attempts: 5, baseMs: 50, maxMs: 2_000 };

const TRANSIENT_NET = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
// Connection exceptions (08), shutdown/crash (57P0x), serialization failure and deadlock (40001, 40P01).
const TRANSIENT_SQL = /^(08...|57P0[123]|40001|40P01|53300)$/;
const CONFIG_SQL = /^(28...|3D000|42501)$/;

interface PgLike {
  code?: string;
  message?: string;
}

export function isTransient(e: unknown): boolean {
  const code = (e as PgLike)?.code;
  if (code && (TRANSIENT_NET.has(code) || TRANSIENT_SQL.test(code))) return true;
  const msg = (e as PgLike)?.message ?? '';
  // node-postgres reports a socket that closed under it with these messages and no code.
  return /Connection terminated|connection timeout|Client has encountered a connection error|terminating connection/i.test(msg);
}

/** Maps a failure that is not ours to handle to a typed store error; our own errors pass through. */
export function classify(e: unknown, where: string): Error {
  if (e instanceof StoreError) return e;
  const code = (e as PgLike)?.code;
  const msg = (e as PgLike)?.message ?? String(e);
  if (code && CONFIG_SQL.test(code)) return new StoreConfigError(`${where}: ${msg} (${code})`, { cause: e });
  if (code === 'ENOTFOUND') return new StoreConfigError(`${where}: host not found (${msg})`, { cause: e });
  if (isTransient(e)) return new StoreUnavailableError(`${where}: Postgres is unreachable or went away: ${msg}`, { cause: e });
  return e instanceof Error ? e : new StoreError(`${where}: ${msg}`, { cause: e });
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs fn, retrying transient failures with exponential backoff; the last failure is classified. */
export async function withRetry<T>(where: string, options: RetryOptions, fn: (attempt: number) => Promise<T>): Promise<T> {
  let delay = options.baseMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (!isTransient(e) || attempt >= options.attempts) {
        const err = classify(e, where);
        if (err instanceof StoreUnavailableError) err.message += ` (after ${attempt} attempt${attempt > 1 ? 's' : ''})`;
        throw err;
      }
      await pause(delay / 2 + Math.random() * delay);
      delay = Math.min(delay * 2, options.maxMs);
    }
  }
}
