import { MemoryStore } from '../src/index.js';
import { storeContract } from './contract.js';

storeContract('MemoryStore', {
  make: async () => new MemoryStore(),
  damageChunk: async (store, hash) => {
    const chunk = (store as unknown as { chunks: Map<string, { bytes: Uint8Array }> }).chunks.get(hash)!;
    chunk.bytes[0] ^= 0xff;
  },
});
