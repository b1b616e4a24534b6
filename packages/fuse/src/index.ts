export { mount, liveMounts, type Mount, type MountOptions } from './mount.js';
export { cleanupStaleMounts, fuseMounts, probe, detach, type MountEntry } from './stale.js';
export { fuseProblem, fuseNativeDriver, type KernelDriver, type DriverMount, type FuseOps } from './driver.js';
export { FuseUnavailableError, MountError } from './errors.js';
export { makeOps, type OpCounter } from './ops.js';
