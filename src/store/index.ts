/** The control plane's store: the interface, its errors, and the SQLite implementation. */
export type * from './store.js';
export { DEFAULT_RETENTION } from './store.js';
export { NotFoundError, ConflictError, StoreFailedError } from './errors.js';
export { openSqliteStore, SqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.js';
export { MIGRATIONS, LATEST_VERSION, type Migration } from './sqlite/migrations.js';
