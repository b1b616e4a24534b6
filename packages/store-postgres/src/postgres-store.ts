// A Store on Postgres through node-postgres. Chunks are rows keyed by their SHA-256; a checkpoint is
// a manifest row plus the list of chunks it references; a workspace is a row whose head moves by
// compare-and-set inside the transaction that records the checkpoint. Foreign keys make the
// guarantees hold under concurrency: a checkpoint cannot reference a chunk that is not there, and GC
// cannot delete a chunk or checkpoint that something committed references (it retries instead).

import { randomUUID } from 'node:crypto';
import pg from 'pg';
import {
  HeadConflictError,
  LeaseHeldError,
  LeaseLostError,
  MissingChunkError,
  NotFoundError,
  StoreConfigError,
  StoreError,
  sha256,
  verifyChunk,
  type CheckpointRecord,
  type CommitInput,
  type GcOptions,
  type GcResult,
  type Lease,
  type LeaseOptions,
  type PutResult,
  type Store,
} from '@vws/store';
import { migrate, quoteIdent } from './schema.js';
import { DEFAULT_RETRY, withRetry, type RetryOptions } from './retry.js';

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database` (or `postgresql://`); `?host=/socket/dir` for a socket. */
  connectionString: string;
  /** Schema holding the tables (created and migrated on connect). Default `vws`. */
  schema?: string;
  /** Pool size (default 4). */
  max?: number;
  retry?: Partial<RetryOptions>;
  /** Milliseconds to wait for a connection before counting the attempt as failed (default 5000). */
  connectTimeoutMs?: number;
}

/** Rows per INSERT: each row is two parameters and Postgres allows 65,535 per statement. */
const INSERT_ROWS = 500;
/** Hashes per lookup. */
const LOOKUP = 5_000;

const hex = (b: Buffer): string => b.toString('hex');
const buf = (h: string): Buffer => Buffer.from(h, 'hex');

interface CheckpointRow {
  id: string;
  workspace: string;
  parent: string | null;
  depth: number;
  manifest_hash: Buffer;
  manifest_bytes: number;
  refs: number;
  created_at: Date;
}

const RECORD_COLUMNS = 'id, workspace, parent, depth, manifest_hash, octet_length(manifest) AS manifest_bytes, refs, created_at';

function toRecord(r: CheckpointRow): CheckpointRecord {
  return {
    id: r.id,
    workspace: r.workspace,
    parent: r.parent,
    depth: r.depth,
    manifestHash: hex(r.manifest_hash),
    manifestBytes: Number(r.manifest_bytes),
    refs: r.refs,
    createdAt: r.created_at,
  };
}

/** Checks the shape of a connection string, naming what is wrong (the password is never echoed). */
export function parseConnectionString(value: unknown): URL {
  if (typeof value !== 'string' || value.trim() === '') throw new StoreConfigError('Postgres connection string is empty: expected postgres://user:password@host:port/database');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new StoreConfigError(`Postgres connection string is not a URL: expected postgres://user:password@host:port/database, got '${value.replace(/:[^:@/]*@/, ':***@')}'`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new StoreConfigError(`Postgres connection string must start with postgres:// or postgresql://, got '${url.protocol}//'`);
  }
  if (!url.hostname && !url.searchParams.get('host')) throw new StoreConfigError('Postgres connection string names no host (postgres://user@HOST:port/database, or ?host=/socket/dir)');
  if (url.port && !(Number(url.port) > 0 && Number(url.port) < 65536)) throw new StoreConfigError(`Postgres connection string has a bad port '${url.port}'`);
  return url;
}

export class PostgresStore implements Store {
  private readonly s: string;
  private readonly retry: RetryOptions;

  private constructor(
    private readonly pool: pg.Pool,
    readonly schema: string,
    retry: RetryOptions,
  ) {
    this.s = quoteIdent(schema);
    this.retry = retry;
  }

  /** Connects, creates or migrates the schema, and returns the store. Typed errors for bad config or no server. */
  static async connect(options: PostgresStoreOptions | string): Promise<PostgresStore> {
    const o = typeof options === 'string' ? { connectionString: options } : options;
    const url = parseConnectionString(o.connectionString);
    const schema = o.schema ?? 'vws';
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) throw new StoreConfigError(`schema '${schema}' is not a plain identifier`);
    const retry = { ...DEFAULT_RETRY, ...o.retry };
    const pool = new pg.Pool({ connectionString: o.connectionString, max: o.max ?? 4, connectionTimeoutMillis: o.connectTimeoutMs ?? 5_000 });
    // An idle client whose server went away emits 'error' on the pool: the next query reconnects.
    pool.on('error', () => {});
    const store = new PostgresStore(pool, schema, retry);
    try {
      await withRetry(`connecting to ${url.hostname || url.searchParams.get('host')}:${url.port || 5432}`, retry, async () => {
        const client = await pool.connect();
        try {
          await migrate(client, schema);
        } finally {
          client.release();
        }
      });
    } catch (e) {
      await pool.end().catch(() => {});
      throw e;
    }
    return store;
  }

  /** One statement (autocommit), retried on transient failures. */
  private q<R extends pg.QueryResultRow>(where: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    return withRetry(where, this.retry, () => this.pool.query<R>(sql.replaceAll('{s}', this.s), params));
  }

  /** One transaction, retried as a whole on transient failures. */
  private tx<T>(where: string, fn: (c: pg.PoolClient, q: <R extends pg.QueryResultRow>(sql: string, params?: unknown[]) => Promise<pg.QueryResult<R>>) => Promise<T>): Promise<T> {
    return withRetry(where, this.retry, async () => {
      const client = await this.pool.connect();
      let broken = false;
      const q = <R extends pg.QueryResultRow>(sql: string, params: unknown[] = []) => client.query<R>(sql.replaceAll('{s}', this.s), params);
      try {
        await client.query('BEGIN');
        const out = await fn(client, q);
        await client.query('COMMIT');
        return out;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw e;
      } finally {
        client.release(broken);
      }
    });
  }

  private async present(hashes: string[]): Promise<Set<string>> {
    const have = new Set<string>();
    for (let i = 0; i < hashes.length; i += LOOKUP) {
      const part = hashes.slice(i, i + LOOKUP).map(buf);
      const { rows } = await this.q<{ hash: Buffer }>('looking up chunks', 'SELECT hash FROM {s}.chunks WHERE hash = ANY($1::bytea[])', [part]);
      for (const r of rows) have.add(hex(r.hash));
    }
    return have;
  }

  async putChunks(chunks: Map<string, Uint8Array>): Promise<PutResult> {
    const have = await this.present([...chunks.keys()]);
    const missing = [...chunks].filter(([h]) => !have.has(h));
    for (const [h, data] of missing) verifyChunk(h, data);
    let bytes = 0;
    for (let i = 0; i < missing.length; i += INSERT_ROWS) {
      const part = missing.slice(i, i + INSERT_ROWS);
      const params: Buffer[] = [];
      const values: string[] = [];
      for (const [h, data] of part) {
        values.push(`($${params.length + 1}, $${params.length + 2})`);
        params.push(buf(h), Buffer.from(data.buffer, data.byteOffset, data.byteLength));
        bytes += data.length;
      }
      await this.q('storing chunks', `INSERT INTO {s}.chunks (hash, data) VALUES ${values.join(',')} ON CONFLICT (hash) DO NOTHING`, params);
    }
    return { chunks: missing.length, bytes };
  }

  async getChunks(hashes: string[]): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    const unique = [...new Set(hashes)];
    for (let i = 0; i < unique.length; i += LOOKUP) {
      const part = unique.slice(i, i + LOOKUP).map(buf);
      // base64 text (Postgres wraps it at 76 columns; Node's decoder skips the newlines): a third
      // less to move and much faster to decode than bytea's hex text. (node-postgres cannot read
      // binary-format bytea results: its protocol parser decodes every field as UTF-8.)
      const { rows: text } = await this.q<{ hash: string; data: string }>('fetching chunks', "SELECT encode(hash, 'hex') AS hash, encode(data, 'base64') AS data FROM {s}.chunks WHERE hash = ANY($1::bytea[])", [part]);
      const rows = text.map((r) => ({ hash: Buffer.from(r.hash, 'hex'), data: Buffer.from(r.data, 'base64') }));
      for (const r of rows) {
        const h = hex(r.hash);
        verifyChunk(h, r.data);
        out.set(h, r.data);
      }
    }
    const missing = unique.filter((h) => !out.has(h));
    if (missing.length) throw new MissingChunkError(missing);
    return out;
  }

  async commit(input: CommitInput): Promise<CheckpointRecord> {
    const manifestHash = sha256(input.manifest);
    return this.tx('committing a checkpoint', async (_c, q) => {
      await q('INSERT INTO {s}.workspaces (id) VALUES ($1) ON CONFLICT (id) DO NOTHING', [input.workspace]);
      const { rows } = await q<{ head: string | null }>('SELECT head FROM {s}.workspaces WHERE id = $1 FOR UPDATE', [input.workspace]);
      const actual = rows[0].head;
      if (actual === input.id) {
        // A retry of a commit whose first attempt went through before the connection dropped.
        const done = await q<CheckpointRow>(`SELECT ${RECORD_COLUMNS} FROM {s}.checkpoints WHERE id = $1`, [input.id]);
        return toRecord(done.rows[0]);
      }
      if (actual !== input.expectedHead) throw new HeadConflictError(input.workspace, input.expectedHead, actual);
      if (input.lease) {
        const held = await q('SELECT 1 FROM {s}.leases WHERE workspace = $1 AND token = $2 AND expires_at > now()', [input.workspace, input.lease.token]);
        if (held.rowCount === 0) throw new LeaseLostError(input.workspace, input.lease.holder);
      }
      const ins = await q<CheckpointRow>(
        `INSERT INTO {s}.checkpoints (id, workspace, parent, depth, manifest, manifest_hash, refs) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${RECORD_COLUMNS}`,
        [input.id, input.workspace, input.parent, input.depth, Buffer.from(input.manifest.buffer, input.manifest.byteOffset, input.manifest.byteLength), buf(manifestHash), input.refs.length],
      ).catch((e) => {
        if (e.code === '23503') throw new NotFoundError(`checkpoint ${input.parent} (the parent of this delta) is no longer in the store`, { cause: e });
        throw e;
      });
      if (input.refs.length) {
        await q('SAVEPOINT refs');
        await q('INSERT INTO {s}.checkpoint_chunks (checkpoint, hash) SELECT $1, unnest($2::bytea[])', [input.id, input.refs.map(buf)]).catch(async (e) => {
          if (e.code !== '23503') throw e;
          // A chunk went missing since it was sent (GC took it before we referenced it): say which.
          await q('ROLLBACK TO SAVEPOINT refs');
          const { rows: there } = await q<{ hash: Buffer }>('SELECT hash FROM {s}.chunks WHERE hash = ANY($1::bytea[])', [input.refs.map(buf)]);
          const have = new Set(there.map((r) => hex(r.hash)));
          throw new MissingChunkError(input.refs.filter((h) => !have.has(h)));
        });
      }
      await q('UPDATE {s}.workspaces SET head = $2 WHERE id = $1', [input.workspace, input.id]);
      if (input.name) {
        await q('INSERT INTO {s}.names (workspace, name, checkpoint) VALUES ($1, $2, $3) ON CONFLICT (workspace, name) DO UPDATE SET checkpoint = EXCLUDED.checkpoint', [input.workspace, input.name, input.id]);
      }
      return toRecord(ins.rows[0]);
    });
  }

  async head(workspace: string): Promise<CheckpointRecord | null> {
    const { rows } = await this.q<CheckpointRow>('reading the head', `SELECT ${RECORD_COLUMNS} FROM {s}.checkpoints WHERE id = (SELECT head FROM {s}.workspaces WHERE id = $1)`, [workspace]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async checkpoint(workspace: string, nameOrId: string): Promise<CheckpointRecord> {
    const isId = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(nameOrId);
    const { rows } = await this.q<CheckpointRow>(
      'reading a checkpoint',
      `SELECT ${RECORD_COLUMNS} FROM {s}.checkpoints WHERE id = (SELECT checkpoint FROM {s}.names WHERE workspace = $1 AND name = $2)` + (isId ? ' OR id = $3::uuid' : ''),
      isId ? [workspace, nameOrId, nameOrId] : [workspace, nameOrId],
    );
    if (!rows[0]) throw new NotFoundError(`workspace '${workspace}' has no checkpoint named or numbered '${nameOrId}'`);
    return toRecord(rows[0]);
  }

  async names(workspace: string): Promise<Map<string, string>> {
    const { rows } = await this.q<{ name: string; checkpoint: string }>('reading names', 'SELECT name, checkpoint FROM {s}.names WHERE workspace = $1 ORDER BY name', [workspace]);
    return new Map(rows.map((r) => [r.name, r.checkpoint]));
  }

  async chain(id: string): Promise<Array<{ record: CheckpointRecord; manifest: Uint8Array }>> {
    const { rows } = await this.q<CheckpointRow & { manifest: Buffer }>(
      'reading manifests',
      `WITH RECURSIVE c AS (SELECT * FROM {s}.checkpoints WHERE id = $1 UNION ALL SELECT p.* FROM {s}.checkpoints p JOIN c ON p.id = c.parent)
       SELECT ${RECORD_COLUMNS}, manifest FROM c ORDER BY depth`,
      [id],
    );
    if (!rows.length) throw new NotFoundError(`checkpoint ${id} is not in the store`);
    if (rows[0].depth !== 0 || rows.length !== rows[rows.length - 1].depth + 1) throw new StoreError(`checkpoint ${id}: its manifest chain is broken (${rows.length} manifests for depth ${rows[rows.length - 1].depth})`);
    return rows.map((r) => ({ record: toRecord(r), manifest: r.manifest }));
  }

  async refsOf(ids: string[]): Promise<string[]> {
    const { rows } = await this.q<{ hash: Buffer }>('reading chunk lists', 'SELECT DISTINCT hash FROM {s}.checkpoint_chunks WHERE checkpoint = ANY($1::uuid[])', [ids]);
    return rows.map((r) => hex(r.hash));
  }

  async fork(checkpoint: string, to: string): Promise<void> {
    await this.q('forking', 'INSERT INTO {s}.workspaces (id, head) VALUES ($1, $2)', [to, checkpoint]).catch((e) => {
      if (e.code === '23505') throw new StoreError(`workspace '${to}' already exists`, { cause: e });
      if (e.code === '23503') throw new NotFoundError(`checkpoint ${checkpoint} is not in the store`, { cause: e });
      throw e;
    });
  }

  async acquireLease(workspace: string, holder: string, options: LeaseOptions): Promise<Lease> {
    const deadline = Date.now() + (options.waitMs ?? 0);
    const token = randomUUID();
    for (let delay = 25; ; delay = Math.min(delay * 2, 1_000)) {
      // Taken when free or expired, by the server's clock (workers' clocks may disagree).
      const got = await this.q<{ expires_at: Date }>(
        'taking a lease',
        `INSERT INTO {s}.leases (workspace, holder, token, expires_at) VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond')
         ON CONFLICT (workspace) DO UPDATE SET holder = EXCLUDED.holder, token = EXCLUDED.token, expires_at = EXCLUDED.expires_at
         WHERE {s}.leases.expires_at <= now() OR {s}.leases.token = EXCLUDED.token
         RETURNING expires_at`,
        [workspace, holder, token, options.ttlMs],
      );
      if (got.rows[0]) return { workspace, holder, token, expiresAt: got.rows[0].expires_at };
      const { rows } = await this.q<{ holder: string; expires_at: Date }>('reading a lease', 'SELECT holder, expires_at FROM {s}.leases WHERE workspace = $1', [workspace]);
      if (!rows[0]) continue; // released in between: try again at once
      if (Date.now() >= deadline) throw new LeaseHeldError(workspace, rows[0].holder, rows[0].expires_at);
      await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(1, deadline - Date.now()))));
    }
  }

  async renewLease(lease: Lease, ttlMs: number): Promise<Lease> {
    const { rows } = await this.q<{ expires_at: Date }>(
      'renewing a lease',
      `UPDATE {s}.leases SET expires_at = now() + $3 * interval '1 millisecond' WHERE workspace = $1 AND token = $2 AND expires_at > now() RETURNING expires_at`,
      [lease.workspace, lease.token, ttlMs],
    );
    if (!rows[0]) throw new LeaseLostError(lease.workspace, lease.holder);
    return { ...lease, expiresAt: rows[0].expires_at };
  }

  async releaseLease(lease: Lease): Promise<void> {
    await this.q('releasing a lease', 'DELETE FROM {s}.leases WHERE workspace = $1 AND token = $2', [lease.workspace, lease.token]);
  }

  async gc(options: GcOptions): Promise<GcResult> {
    if (!(options.retainMs >= 0)) throw new StoreConfigError(`gc retainMs must be >= 0, got ${options.retainMs}`);
    // A concurrent save may reference something we chose to delete: the foreign keys refuse the
    // delete (23503) and we choose again. Deletes see only committed rows, so in-flight saves are safe.
    const attempt = async <T>(fn: () => Promise<T>, empty: T): Promise<T> => {
      for (let i = 0; i < 5; i++) {
        try {
          return await fn();
        } catch (e) {
          if ((e as { code?: string }).code !== '23503') throw e;
        }
      }
      return empty;
    };
    const checkpoints = await attempt(async () => {
      const { rowCount } = await this.q(
        'collecting checkpoints',
        `WITH RECURSIVE roots AS (
           SELECT head AS id FROM {s}.workspaces WHERE head IS NOT NULL
           UNION SELECT checkpoint FROM {s}.names
           UNION SELECT id FROM {s}.checkpoints WHERE created_at > now() - $1 * interval '1 millisecond'
         ), keep AS (
           SELECT id FROM roots
           UNION SELECT c.parent FROM {s}.checkpoints c JOIN keep k ON c.id = k.id WHERE c.parent IS NOT NULL
         )
         DELETE FROM {s}.checkpoints WHERE id NOT IN (SELECT id FROM keep)`,
        [options.retainMs],
      );
      return rowCount ?? 0;
    }, 0);
    const chunks = await attempt(async () => {
      const { rows } = await this.q<{ n: string; bytes: string | null }>(
        'collecting chunks',
        `WITH gone AS (
           DELETE FROM {s}.chunks c WHERE created_at < now() - $1 * interval '1 millisecond'
             AND NOT EXISTS (SELECT 1 FROM {s}.checkpoint_chunks r WHERE r.hash = c.hash)
           RETURNING octet_length(data) AS size)
         SELECT count(*) AS n, sum(size) AS bytes FROM gone`,
        [options.retainMs],
      );
      return { n: Number(rows[0].n), bytes: Number(rows[0].bytes ?? 0) };
    }, { n: 0, bytes: 0 });
    return { checkpoints, chunks: chunks.n, bytes: chunks.bytes };
  }

  async workspaces(): Promise<string[]> {
    const { rows } = await this.q<{ id: string }>('listing workspaces', 'SELECT id FROM {s}.workspaces ORDER BY id');
    return rows.map((r) => r.id);
  }

  /** Table sizes and row counts, for the scaling note and monitoring. */
  async stats(): Promise<Record<string, { rows: number; bytes: number }>> {
    const out: Record<string, { rows: number; bytes: number }> = {};
    for (const t of ['chunks', 'checkpoints', 'checkpoint_chunks', 'workspaces', 'names', 'leases']) {
      const { rows } = await this.q<{ n: string; bytes: string }>('reading stats', `SELECT count(*) AS n, pg_total_relation_size('{s}.${t}') AS bytes FROM {s}.${t}`);
      out[t] = { rows: Number(rows[0].n), bytes: Number(rows[0].bytes) };
    }
    return out;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
