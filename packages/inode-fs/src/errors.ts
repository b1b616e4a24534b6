// Typed errno errors. Callers switch on `code` (or `errno` for FUSE), never parse messages.

export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  EBADF: 9,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  EFBIG: 27,
  ENODEV: 19,
  ENOSPC: 28,
  ERANGE: 34,
  ENAMETOOLONG: 36,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENODATA: 61,
  ENOTSUP: 95,
} as const;

export type ErrorCode = keyof typeof ERRNO;

const DESCRIPTIONS: Record<ErrorCode, string> = {
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  EIO: 'i/o error',
  EBADF: 'bad file descriptor',
  EACCES: 'permission denied',
  EBUSY: 'resource busy',
  EEXIST: 'file already exists',
  EXDEV: 'cross-device link',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EINVAL: 'invalid argument',
  EFBIG: 'file too large',
  ENODEV: 'no such device',
  ENOSPC: 'no space left on device',
  ERANGE: 'result too large',
  ENAMETOOLONG: 'name too long',
  ENOTEMPTY: 'directory not empty',
  ELOOP: 'too many levels of symbolic links',
  ENODATA: 'no data available',
  ENOTSUP: 'operation not supported',
};

export class FsError extends Error {
  readonly code: ErrorCode;
  readonly errno: number;
  readonly syscall: string;
  readonly path?: string;

  constructor(code: ErrorCode, syscall: string, path?: string, detail?: string) {
    const where = path === undefined ? '' : ` '${path}'`;
    super(`${code}: ${DESCRIPTIONS[code]}${detail ? ` (${detail})` : ''}, ${syscall}${where}`);
    this.name = 'FsError';
    this.code = code;
    this.errno = ERRNO[code];
    this.syscall = syscall;
    if (path !== undefined) this.path = path;
  }
}

/** Snapshot bytes that are damaged, truncated, foreign or meant for another parent. */
export class SnapshotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotError';
  }
}
