import { MemoryStore } from '../src/index.js';
import { storeContract } from './contract.js';
import { lazyContract } from './lazy-contract.js';

const hooks: Parameters<typeof storeContract>[1] = {
  make: async () => new MemoryStore(),
  damageChunk: async (store, hash) => {
    const chunk = (store as unknown as { chunks: Map<string, { bytes: Uint8Array }> }).chunks.get(hash)!;
    chunk.bytes[0] ^= 0xff;
  },
};

storeContract('MemoryStore', hooks);
lazyContract('MemoryStore', hooks);
