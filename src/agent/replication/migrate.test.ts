import { describe, expect, it } from 'vitest';
import { parseMigrateRequest, sourceDowntimeMs } from './migrate.js';

describe('live migration helpers (pure)', () => {
  it('downtime: STOP -> completed from the events, else the hypervisor figure, else null', () => {
    expect(sourceDowntimeMs(1000, 1053.74, undefined)).toBe(53.7);
    expect(sourceDowntimeMs(null, 1053, 41)).toBe(41);
    expect(sourceDowntimeMs(1000, null, 0)).toBeNull(); // query-migrate right after completion can read 0
    expect(sourceDowntimeMs(2000, 1000, undefined)).toBeNull();
  });

  it('a migrate request needs tcp:HOST:PORT; defaults are filled; every bad field is listed', () => {
    expect(parseMigrateRequest({ uri: 'tcp:10.0.0.2:4444' }, 'vm1')).toEqual({ uri: 'tcp:10.0.0.2:4444', timeoutMs: 120_000 });
    expect(parseMigrateRequest({ uri: 'tcp:[::1]:4444', replicationJob: false }, 'vm1')).toMatchObject({ replicationJob: false });
    const e = (() => {
      try {
        return parseMigrateRequest({ uri: 'exec:rm -rf /', timeoutMs: 0 }, 'vm1');
      } catch (x) {
        return x;
      }
    })();
    expect(e).toMatchObject({ code: 'REQUEST_INVALID' });
    expect((e as { issues: { path: string }[] }).issues.map((i) => i.path).sort()).toEqual(['timeoutMs', 'uri']);
  });
});
