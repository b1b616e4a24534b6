// Engine errno errors, translated to Mastra's filesystem error classes.

import {
  DirectoryNotEmptyError,
  DirectoryNotFoundError,
  FileExistsError,
  FileNotFoundError,
  FilesystemError,
  IsDirectoryError,
  NotDirectoryError,
  PermissionError,
} from '@mastra/core/workspace';
import { FsError } from '@vws/inode-fs';

/** What a missing path means for the call: a file, or a directory. */
export type Subject = 'file' | 'directory';

export function toMastraError(e: unknown, path: string, subject: Subject = 'file', operation = 'access'): unknown {
  if (!(e instanceof FsError)) return e;
  switch (e.code) {
    case 'ENOENT':
      return subject === 'directory' ? new DirectoryNotFoundError(path) : new FileNotFoundError(path);
    case 'EEXIST':
      return new FileExistsError(path);
    case 'EISDIR':
      return new IsDirectoryError(path);
    case 'ENOTDIR':
      return new NotDirectoryError(path);
    case 'ENOTEMPTY':
      return new DirectoryNotEmptyError(path);
    case 'EACCES':
    case 'EPERM':
      return new PermissionError(path, operation);
    default:
      // Keep the errno code (ENOSPC, ENAMETOOLONG, EINVAL, ELOOP...) and the engine's message.
      return new FilesystemError(e.message, e.code, path);
  }
}

/** Runs fn and rethrows engine errors as Mastra errors about `path`. */
export function mapped<T>(path: string, fn: () => T, subject: Subject = 'file', operation?: string): T {
  try {
    return fn();
  } catch (e) {
    throw toMastraError(e, path, subject, operation);
  }
}
