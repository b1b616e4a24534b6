export { PtySandbox, CommandDeniedError, type PtyCommandResult } from './pty-sandbox.js';
export { PtyProcessHandle, PtyProcessManager } from './process-manager.js';
export { IsolationUnavailableError, type Isolation } from './isolation.js';
export type { PtySandboxOptions, Policy, PolicyDecision } from './options.js';
export type { Changes } from './mounts.js';
export { SyncError } from './shadow-mount.js';
