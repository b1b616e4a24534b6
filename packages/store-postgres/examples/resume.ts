// Two "workers" sharing a workspace through Postgres. Point VWS_STORE at a server:
//   VWS_STORE=postgres://postgres@127.0.0.1:5432/postgres pnpm --filter @vws/store-postgres exec tsx --conditions=@vws/source examples/resume.ts
import { openFromStore, LeaseHeldError } from '@vws/store';
import { PostgresStore } from '@vws/store-postgres';

const url = process.env.VWS_STORE;
if (!url) throw new Error('set VWS_STORE=postgres://user:password@host:port/database');
const store = await PostgresStore.connect({ connectionString: url, schema: 'vws_example' });
const id = `demo-${Date.now()}`;

const a = await openFromStore(store, id, { lease: { holder: 'worker-a', ttlMs: 30_000 } });
a.engine.mkdir('/src');
a.engine.writeFile('/src/main.ts', 'console.log("hi")\n');
await a.save({ name: 'v1' });

try {
  await openFromStore(store, id, { lease: { holder: 'worker-b' } });
} catch (e) {
  if (e instanceof LeaseHeldError) console.log(e.message); // workspace 'demo-…' is held by worker-a until …
}
await a.close();

const b = await openFromStore(store, id, { lease: { holder: 'worker-b', waitMs: 5_000 } });
console.log(b.engine.readFile('/src/main.ts', 'utf8'), b.engine.fingerprint() === a.engine.fingerprint());
await b.close();
await store.close();
