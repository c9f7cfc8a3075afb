/**
 * The SQLite schema as forward-only numbered migrations. A database records every applied
 * migration in `schema_version`; opening it applies the missing ones in order, each in its own
 * transaction. A database whose version is newer than this code knows is refused (no
 * downgrades). Never edit a released migration: add the next number.
 */
import type Database from 'better-sqlite3';
import { StoreFailedError } from '../errors.js';

/** One schema step. */
export interface Migration {
  /** 1, 2, 3, ... without gaps. */
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * Every migration, in order.
 *
 * v1 layout notes:
 * - `vms` holds the spec (desired state) and `vm_status` the observed state, one row each per
 *   VM: the reconciler's status writes never touch the spec row.
 * - Samples are normalized: `series` (vm_id, metric, unit) and `samples` (series_id, t, value),
 *   clustered by (series_id, t) (WITHOUT ROWID) so one series' range is one index scan. Older
 *   samples live as bucket averages in `samples_downsampled` with the count they average.
 * - `events` is append-only (AUTOINCREMENT: a seq is never reused, even after deletes).
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE agents (
  name TEXT PRIMARY KEY,
  api_url TEXT NOT NULL,
  address TEXT NOT NULL,
  labels TEXT NOT NULL,
  cores REAL NOT NULL,
  memory_mib REAL NOT NULL,
  registered_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  lease_expires_at INTEGER NOT NULL,
  observed TEXT NOT NULL
) STRICT;

CREATE TABLE vms (
  id TEXT PRIMARY KEY,
  role TEXT NOT NULL CHECK (role IN ('primary', 'shadow')),
  spec TEXT NOT NULL,
  generation INTEGER NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE vm_status (
  vm_id TEXT PRIMARY KEY REFERENCES vms(id) ON DELETE CASCADE,
  status TEXT NOT NULL
) STRICT;

CREATE TABLE series (
  id INTEGER PRIMARY KEY,
  vm_id TEXT NOT NULL,
  metric TEXT NOT NULL,
  unit TEXT NOT NULL,
  UNIQUE (vm_id, metric)
) STRICT;

CREATE TABLE samples (
  series_id INTEGER NOT NULL,
  t REAL NOT NULL,
  value REAL NOT NULL,
  PRIMARY KEY (series_id, t)
) STRICT, WITHOUT ROWID;

CREATE TABLE samples_downsampled (
  series_id INTEGER NOT NULL,
  t INTEGER NOT NULL,
  value REAL NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (series_id, t)
) STRICT, WITHOUT ROWID;

CREATE TABLE forecasts (
  vm_id TEXT NOT NULL,
  metric TEXT NOT NULL,
  computed_at REAL NOT NULL,
  forecast TEXT NOT NULL,
  PRIMARY KEY (vm_id, metric)
) STRICT;

CREATE TABLE events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  t INTEGER NOT NULL,
  kind TEXT NOT NULL,
  vm_id TEXT,
  data TEXT NOT NULL
) STRICT;
CREATE INDEX events_by_vm ON events (vm_id, seq);
`,
  },
  {
    version: 2,
    name: 'shadows and alerts',
    sql: `
CREATE TABLE shadows (
  id TEXT PRIMARY KEY,
  vm_id TEXT NOT NULL,
  doc TEXT NOT NULL
) STRICT;
CREATE INDEX shadows_by_vm ON shadows (vm_id, id);

CREATE TABLE alerts (
  key TEXT PRIMARY KEY,
  state TEXT NOT NULL CHECK (state IN ('firing', 'resolved')),
  vm_id TEXT,
  updated_at INTEGER NOT NULL,
  ends_at INTEGER,
  doc TEXT NOT NULL
) STRICT;
CREATE INDEX alerts_by_update ON alerts (updated_at);
`,
  },
  {
    version: 3,
    name: 'failovers',
    sql: `
CREATE TABLE failovers (
  id TEXT PRIMARY KEY,
  vm_id TEXT NOT NULL,
  state TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  doc TEXT NOT NULL
) STRICT;
CREATE INDEX failovers_by_vm ON failovers (vm_id, started_at);
CREATE INDEX failovers_by_state ON failovers (state, started_at);
`,
  },
];

/** The schema version this code writes. */
export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

/** The version recorded in `db` (0 for a new database). */
export function schemaVersion(db: Database.Database): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT');
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null };
  return row.v ?? 0;
}

/**
 * Brings `db` to the latest version. `now` (epoch ms) is recorded per applied step.
 * @returns the version before and after
 * @throws StoreFailedError when the database is newer than `migrations` know, or a step fails
 */
export function migrate(db: Database.Database, now: number, migrations: readonly Migration[] = MIGRATIONS, file = ':memory:'): { from: number; to: number } {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new StoreFailedError(`migration ${m.name} has version ${m.version}, expected ${i + 1}`, { file });
  });
  const from = schemaVersion(db);
  const latest = migrations.length;
  if (from > latest) {
    throw new StoreFailedError(`database schema version ${from} is newer than this Umbra knows (${latest}); upgrade Umbra`, { file, version: from, known: latest });
  }
  const record = db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)');
  for (const m of migrations.slice(from)) {
    try {
      db.transaction(() => {
        db.exec(m.sql);
        record.run(m.version, m.name, now);
      }).immediate();
    } catch (e) {
      throw new StoreFailedError(`migration ${m.version} (${m.name}) failed: ${(e as Error).message}`, { file, version: m.version }, { cause: e });
    }
  }
  return { from, to: Math.max(from, latest) };
}
