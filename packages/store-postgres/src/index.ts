export { PostgresStore, parseConnectionString, type PostgresStoreOptions } from './postgres-store.js';
export { MIGRATIONS } from './schema.js';
export type { RetryOptions } from './retry.js';
