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
  StoreDamagedError,
} from './errors.js';
export { MemoryStore } from './memory-store.js';
export { DiskStore, type DiskStoreOptions } from './disk-store.js';
export { readRegular, writeDurable, syncDir } from './safe-file.js';
export { withFileLock } from './file-lock.js';
export { StoredWorkspace, openFromStore, loadState, DEFAULT_PREFETCH_BYTES, type OpenOptions, type SaveResult, type OpenResult } from './workspace.js';
export { checkStore, type CheckReport } from './check.js';
export { sha256, verifyChunk } from './hash.js';
export { fetching, ChunkNotFetchedError } from '@vws/inode-fs';
