// Bad input and bad weather: typed errors that say what and where, the in-memory workspace intact.

import { createServer, connect, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { ManifestHashMismatchError, StoreConfigError, StoreUnavailableError, openFromStore } from '@vws/store';
import { PostgresStore } from '../src/index.js';

let n = 0;
const schema = () => `e_${process.pid}_${n++}`;

/** A TCP proxy to the test server that can cut every connection and refuse new ones. */
async function proxy(target: URL): Promise<{ url: string; cut(): void; heal(): void; bytes(): number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let up = true;
  let bytes = 0;
  const server: Server = createServer((client) => {
    if (!up) return client.destroy();
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    client.on('data', (d) => (bytes += d.length));
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const url = new URL(target.href);
  url.port = String(port);
  return {
    url: url.href,
    cut() {
      up = false;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    heal() {
      up = true;
    },
    bytes: () => bytes,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe('connection strings', () => {
  it('a malformed connection string is a StoreConfigError naming the expected form, before any network', async () => {
    await expect(PostgresStore.connect('localhost:5432')).rejects.toThrow(StoreConfigError);
    await expect(PostgresStore.connect('not a url')).rejects.toThrow(/expected postgres:\/\/user:password@host:port\/database/);
    await expect(PostgresStore.connect('mysql://u@h/db')).rejects.toThrow(/must start with postgres:\/\//);
    await expect(PostgresStore.connect('')).rejects.toThrow(/empty/);
    await expect(PostgresStore.connect({ connectionString: inject('pgUrl'), schema: 'bad; drop' })).rejects.toThrow(/not a plain identifier/);
  });

  it('the password is never echoed in the error', async () => {
    const err = await PostgresStore.connect('postgres://u:s3cret@').catch((e) => e);
    expect(err).toBeInstanceOf(StoreConfigError);
    expect(err.message).not.toContain('s3cret');
  });

  it('no server at that address: StoreUnavailableError after retries, naming the address', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    await new Promise((r) => srv.close(r)); // now nothing listens there
    const err = await PostgresStore.connect({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`, retry: { attempts: 3, baseMs: 10 } }).catch((e) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect(err.message).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}.*after 3 attempts`));
  });

  it('a database that does not exist is a StoreConfigError (no pointless retries)', async () => {
    const url = new URL(inject('pgUrl'));
    url.pathname = '/no_such_db';
    const err = await PostgresStore.connect(url.href).catch((e) => e);
    expect(err).toBeInstanceOf(StoreConfigError);
    expect(err.message).toMatch(/no_such_db/);
  });
});

describe('a server that goes away mid-save', () => {
  it('fails the save with StoreUnavailableError, keeps the engine and the head; the next save after it returns works', async () => {
    const p = await proxy(new URL(inject('pgUrl')));
    const s = schema();
    const store = await PostgresStore.connect({ connectionString: p.url, schema: s, retry: { attempts: 3, baseMs: 20 } });
    const ws = await openFromStore(store, 'flaky');
    ws.engine.writeFile('/a', 'first');
    const first = await ws.save();
    ws.engine.mkdir('/many');
    for (let i = 0; i < 200; i++) ws.engine.writeFile(`/many/f${i}`, `unique content ${i} `.repeat(500));
    // Cut once the save has started sending (mid-upload), and keep new connections refused.
    const before = p.bytes();
    const timer = setInterval(() => {
      if (p.bytes() > before + 50_000) {
        p.cut();
        clearInterval(timer);
      }
    }, 1);
    const fingerprint = ws.engine.fingerprint();
    const err = await ws.save().catch((e) => e);
    clearInterval(timer);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect(err.message).toMatch(/went away|unreachable/);
    expect(ws.engine.fingerprint()).toBe(fingerprint);
    // The head did not move.
    const direct = await PostgresStore.connect({ connectionString: inject('pgUrl'), schema: s });
    expect((await direct.head('flaky'))?.id).toBe(first.checkpoint.id);
    // Back again: the same workspace saves, and nothing the failed save left trips it.
    p.heal();
    const again = await ws.save();
    expect((await direct.head('flaky'))?.id).toBe(again.checkpoint.id);
    expect((await openFromStore(direct, 'flaky')).engine.fingerprint()).toBe(fingerprint);
    await store.close();
    await direct.close();
    await p.close();
  });
});

describe('damage', () => {
  it('a damaged manifest is refused with ManifestHashMismatchError', async () => {
    const s = schema();
    const store = await PostgresStore.connect({ connectionString: inject('pgUrl'), schema: s });
    const ws = await openFromStore(store, 'm');
    ws.engine.writeFile('/f', 'x');
    const saved = await ws.save();
    const client = new pg.Client(inject('pgUrl'));
    await client.connect();
    await client.query(`UPDATE "${s}".checkpoints SET manifest = overlay(manifest placing '\\x00'::bytea from 20) WHERE id = $1`, [saved.checkpoint.id]);
    await client.end();
    const err = await openFromStore(store, 'm').catch((e) => e);
    expect(err).toBeInstanceOf(ManifestHashMismatchError);
    expect(err.message).toContain(saved.checkpoint.id);
    await store.close();
  });
});
