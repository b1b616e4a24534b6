// Typed store errors: each says what failed and where, so callers branch on the class, not the text.

export class StoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Another writer moved the workspace head first: nothing was committed; the local state is intact. */
export class HeadConflictError extends StoreError {
  constructor(
    readonly workspace: string,
    readonly expected: string | null,
    readonly actual: string | null,
  ) {
    super(`workspace '${workspace}': head is ${actual ?? '(none)'}, expected ${expected ?? '(none)'}: another writer saved first`);
  }
}

/** The workspace is leased to someone else. */
export class LeaseHeldError extends StoreError {
  constructor(
    readonly workspace: string,
    readonly holder: string,
    readonly until: Date,
  ) {
    super(`workspace '${workspace}' is held by ${holder} until ${until.toISOString()}`);
  }
}

/** Our lease expired or was taken over: saves are refused until the workspace is reopened. */
export class LeaseLostError extends StoreError {
  constructor(readonly workspace: string, readonly holder: string) {
    super(`workspace '${workspace}': the lease held by ${holder} expired or was taken over`);
  }
}

/** A chunk's bytes do not hash to its key (damage in the store or on the wire). */
export class ChunkHashMismatchError extends StoreError {
  constructor(readonly hash: string, readonly actual: string) {
    super(`chunk ${hash} is damaged: its bytes hash to ${actual}`);
  }
}

/** A manifest's bytes do not hash to the checksum recorded with its checkpoint. */
export class ManifestHashMismatchError extends StoreError {
  constructor(readonly checkpoint: string, readonly expected: string, readonly actual: string) {
    super(`checkpoint ${checkpoint}: manifest is damaged (sha256 ${actual}, recorded ${expected})`);
  }
}

/** A referenced chunk is not in the store. */
export class MissingChunkError extends StoreError {
  /** `where`: the first one's location, where the store has one (a DiskStore's file path). */
  constructor(readonly hashes: string[], where?: string) {
    super(`${hashes.length} chunk(s) missing from the store, first ${hashes[0]}${where ? ` (${where} does not exist)` : ''}`);
  }
}

/** No such workspace, checkpoint or name. */
export class NotFoundError extends StoreError {}

/** The store cannot be reached, or went away mid-operation (after retries where a retry could help). */
export class StoreUnavailableError extends StoreError {}

/** Bad configuration (a malformed connection string, an invalid option). */
export class StoreConfigError extends StoreError {}

/** A file of an on-disk store is damaged, of the wrong kind (symlink, FIFO, directory) or too large. */
export class StoreDamagedError extends StoreError {
  constructor(readonly path: string, readonly why: string) {
    super(`${path}: ${why}`);
  }
}
