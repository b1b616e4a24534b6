export { InodeFilesystem, normalize, type CheckpointInfo } from './inode-filesystem.js';
export type { InodeFilesystemOptions } from './options.js';
export { toMastraError } from './errors.js';
