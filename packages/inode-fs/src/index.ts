export { InodeFs, ROOT_INO, NAME_MAX, PATH_MAX, SYMLOOP_MAX, FILE_MAX, MAX_INO, DEFAULT_QUOTA, wallClock } from './inode-fs.js';
export { nameToBytes, bytesToName, isCanonicalName } from './names.js';
export {
  O_ACCMODE,
  O_RDONLY,
  O_WRONLY,
  O_RDWR,
  O_CREAT,
  O_EXCL,
  O_TRUNC,
  O_APPEND,
  RENAME_NOREPLACE,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_ZERO_RANGE,
  RENAME_EXCHANGE,
  XATTR_CREATE,
  XATTR_REPLACE,
} from './inode-fs.js';
export type { Clock, Quota, InodeFsOptions, ChangeEvent, SetAttr } from './inode-fs.js';
export { Stats, kindOf, S_IFMT, S_IFREG, S_IFDIR, S_IFLNK, S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK } from './inode.js';
export type { Kind, DirEntry } from './inode.js';
export { FsError, SnapshotError, ERRNO, type ErrorCode } from './errors.js';
export type { Change, DiffResult } from './diff.js';
export type { RestoreOptions, ManifestExport, OpenExport, ChunkSource } from './snapshot.js';
export { CHUNK } from './content.js';
export { ChunkRef, ChunkNotFetchedError, LazyChunks, fetching, fetchRefs, type ChunkLoader, type LazyStats } from './lazy.js';
