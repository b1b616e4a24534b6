// Reads of a workspace opened lazily from a store (@vws/store): the engine throws
// ChunkNotFetchedError (having changed nothing) when a call needs chunks not fetched yet; the async
// Mastra API fetches them and runs the call again.

import { ChunkNotFetchedError, type InodeFs } from '@vws/inode-fs';

/**
 * Runs `call`, fetching the chunks it needs and running it again. `wide`: a call that may read many
 * files (grep, a recursive copy) fetches everything under that path at its first miss, in batches,
 * instead of one file per retry.
 */
export async function withChunks<T>(fs: InodeFs, call: () => T, wide?: string): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return call();
    } catch (e) {
      if (!(e instanceof ChunkNotFetchedError) || attempt >= 8) throw e;
      if (wide !== undefined && attempt === 1) await fs.prefetch(wide);
      else await e.fetch();
    }
  }
}
