export { mount, liveMounts, restoreForMount, type Mount, type MountOptions } from './mount.js';
export { ServingThreadError } from './serve-thread.js';
export { releaseEngine } from './remote-fs.js';
export { cleanupStaleMounts, fuseMounts, probe, detach, sweepDeadServers, type MountEntry } from './stale.js';
export { fuseProblem, lowLevelDriver, type KernelDriver, type KernelSession, type ServeBuffers } from './driver.js';
export { FuseUnavailableError, MountError } from './errors.js';
export { type OpCounter, type CacheTimeouts } from './requests.js';
