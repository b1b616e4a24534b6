import { inject } from 'vitest';
import pg from 'pg';
import { PostgresStore } from '../src/index.js';
import { storeContract } from '../../store/test/contract.js';
import { lazyContract } from '../../store/test/lazy-contract.js';

let n = 0;
const schema = () => `t_${process.pid}_${n++}`;

const hooks: Parameters<typeof storeContract>[1] = {
  make: () => PostgresStore.connect({ connectionString: inject('pgUrl'), schema: schema() }),
  damageChunk: async (store, hash) => {
    const client = new pg.Client(inject('pgUrl'));
    await client.connect();
    const s = (store as PostgresStore).schema;
    await client.query(`UPDATE "${s}".chunks SET data = 'damaged'::bytea WHERE hash = $1`, [Buffer.from(hash, 'hex')]);
    await client.end();
  },
};

storeContract('PostgresStore', hooks);
lazyContract('PostgresStore', hooks);
