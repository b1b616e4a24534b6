export type { Store, CheckpointRecord, CommitInput, Lease, LeaseOptions, GcOptions, GcResult, PutResult } from './store.js';
export {
  StoreError,
  HeadConflictError,
  LeaseHeldError,
  LeaseLostError,
  ChunkHashMismatchError,
  ManifestHashMismatchError,
  MissingChunkError,
  NotFoundError,
  StoreUnavailableError,
  StoreConfigError,
} from './errors.js';
export { MemoryStore } from './memory-store.js';
export { StoredWorkspace, openFromStore, loadState, DEFAULT_PREFETCH_BYTES, type OpenOptions, type SaveResult, type OpenResult } from './workspace.js';
export { checkStore, type CheckReport } from './check.js';
export { sha256, verifyChunk } from './hash.js';
export { fetching, ChunkNotFetchedError } from '@vws/inode-fs';
