import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runStoreContract } from '../contract.js';
import { LATEST_VERSION, MIGRATIONS, migrate, schemaVersion } from './migrations.js';
import { openSqliteStore } from './sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'umbra-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

runStoreContract({ name: 'sqlite in memory', make: () => openSqliteStore({ path: ':memory:', now: 0 }) });
runStoreContract({ name: 'sqlite file', make: () => openSqliteStore({ path: join(dir, `contract-${n++}`, 'umbra.db'), now: 0 }) });

describe('SQLite store specifics', () => {
  it('uses WAL on a file and keeps records across a reopen', async () => {
    const path = join(dir, 'reopen', 'umbra.db');
    const a = openSqliteStore({ path, now: 0 });
    expect(a.journalMode()).toBe('wal');
    await a.transaction((t) => t.putAgent({ name: 'h1', apiUrl: 'http://h1:1', address: 'h1', labels: {}, capacity: { cores: 2, memoryMiB: 512 } }, { now: 5, leaseExpiresAt: 10, observed: [] }));
    await a.transaction((t) => t.insertSamples([{ vmId: 'v', metric: 'm', t: 1, value: 2, unit: 'u' }]));
    await a.close();
    const b = openSqliteStore({ path, now: 0 });
    expect((await b.read((r) => r.getAgent('h1')))?.leaseExpiresAt).toBe(10);
    expect(await b.read((r) => r.sampleStats())).toEqual({ raw: 1, downsampled: 0, series: 1 });
    await b.close();
  });

  it('numbers migrations 1..n and applies each once, recording it', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    const db = new Database(':memory:');
    expect(migrate(db, 123)).toEqual({ from: 0, to: LATEST_VERSION });
    expect(migrate(db, 456)).toEqual({ from: LATEST_VERSION, to: LATEST_VERSION });
    expect(db.prepare('SELECT version, applied_at FROM schema_version ORDER BY version').all()).toEqual(
      MIGRATIONS.map((m) => ({ version: m.version, applied_at: 123 })),
    );
    db.close();
  });

  it('applies only the missing steps to an older database', () => {
    const db = new Database(':memory:');
    const extra = [...MIGRATIONS, { version: MIGRATIONS.length + 1, name: 'add a column', sql: 'ALTER TABLE agents ADD COLUMN zone TEXT' }];
    migrate(db, 1);
    expect(migrate(db, 2, extra)).toEqual({ from: LATEST_VERSION, to: LATEST_VERSION + 1 });
    expect((db.prepare('PRAGMA table_info(agents)').all() as { name: string }[]).map((c) => c.name)).toContain('zone');
    db.close();
  });

  it('refuses a database newer than the code, and a failed step leaves the version unchanged', () => {
    const path = join(dir, 'newer.db');
    const db = new Database(path);
    migrate(db, 1);
    db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)').run(LATEST_VERSION + 1, 'from the future', 2);
    const broken = [...MIGRATIONS, { version: LATEST_VERSION + 1, name: 'x', sql: 'SELECT 1' }, { version: LATEST_VERSION + 2, name: 'bad', sql: 'CREATE TABLE agents (x)' }];
    expect(() => migrate(db, 3, broken)).toThrow(expect.objectContaining({ code: 'STORE_FAILED', message: expect.stringContaining('migration') }));
    expect(schemaVersion(db)).toBe(LATEST_VERSION + 1);
    db.close();
    expect(() => openSqliteStore({ path })).toThrow(expect.objectContaining({ code: 'STORE_FAILED', message: expect.stringContaining('newer') }));
  });

  it('reports a file it cannot open as STORE_FAILED', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a folder');
    expect(() => openSqliteStore({ path: join(file, 'umbra.db') })).toThrow(expect.objectContaining({ code: 'STORE_FAILED' }));
    // A file that is not a database.
    expect(() => openSqliteStore({ path: file })).toThrow(expect.objectContaining({ code: 'STORE_FAILED' }));
  });
});
