/** FUSE cannot be used on this host: says what is missing and what to install. */
export class FuseUnavailableError extends Error {
  constructor(
    readonly missing: string,
    readonly install: string,
  ) {
    super(`FUSE is not available: ${missing}. ${install}`);
    this.name = 'FuseUnavailableError';
  }
}

/** A mount or unmount that failed, with the host path it was about. */
export class MountError extends Error {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(`${message} (${path})`);
    this.name = 'MountError';
  }
}
