// Save a workspace to a store, change one file, save again, reopen elsewhere.
// Run: pnpm --filter @vws/store exec tsx --conditions=@vws/source examples/basic.ts
import { MemoryStore, openFromStore } from '@vws/store';

const store = new MemoryStore(); // or: await PostgresStore.connect(process.env.VWS_STORE!)
const a = await openFromStore(store, 'ws-1', { lease: { holder: 'worker-a' } });
for (let i = 0; i < 1000; i++) a.engine.writeFile(`/f${i}.txt`, `file ${i}\n`);
const first = await a.save({ name: 'initial' }); // a full manifest and 1000 chunks
console.log('first save', first.kind, first.chunksSent, 'chunks,', first.manifestBytes, 'manifest bytes');
a.engine.writeFile('/f7.txt', 'changed\n');
const second = await a.save(); // delta: 1 chunk, a manifest of ~150 bytes
console.log('second save', second.kind, second.chunksSent, 'chunk(s),', second.manifestBytes, 'manifest bytes');
await a.close(); // releases the lease

const b = await openFromStore(store, 'ws-1', { lease: { holder: 'worker-b' } });
console.log('b sees', b.engine.readFile('/f7.txt', 'utf8').trim(), '| same tree:', b.engine.fingerprint() === a.engine.fingerprint());
await b.close();
