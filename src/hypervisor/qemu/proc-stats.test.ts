import { describe, expect, it } from 'vitest';
import { parseProcIo, parseProcStat, parseVmRssBytes, readProcessStats } from './proc-stats.js';

describe('/proc parsers', () => {
  it('counts stat fields from the last parenthesis (command names may hold spaces and parens)', () => {
    const line = '4242 (qemu (a) b) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 567 0 0 20 0 3 0 98765 700000000 51200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0';
    expect(parseProcStat(line)).toEqual({ state: 'S', ppid: 1, session: 4242, utimeTicks: 1234, stimeTicks: 567, startTicks: 98765, rssPages: 51200 });
  });

  it('reads VmRSS in bytes, 0 when absent', () => {
    expect(parseVmRssBytes('Name:\tqemu\nVmRSS:\t  204800 kB\nThreads: 5\n')).toBe(204800 * 1024);
    expect(parseVmRssBytes('Name:\tzombie\nState:\tZ (zombie)\n')).toBe(0);
  });

  it('reads rchar/wchar', () => {
    expect(parseProcIo('rchar: 100\nwchar: 200\nsyscr: 3\nsyscw: 4\nread_bytes: 0\nwrite_bytes: 0\n')).toEqual({ readBytes: 100, writeBytes: 200 });
    expect(() => parseProcIo('nothing')).toThrow();
  });

  it('reads this process (CPU time grows with work)', () => {
    const a = readProcessStats(process.pid);
    let x = 0;
    let b = a;
    const end = performance.now() + 5000; // the machine is shared: allow for a slow scheduler
    while (b.cpuTimeMs < a.cpuTimeMs + 30 && performance.now() < end) {
      for (let i = 0; i < 1e5; i++) x += Math.sqrt(x + i);
      b = readProcessStats(process.pid);
    }
    expect(x).toBeGreaterThan(0);
    expect(a.rssBytes).toBeGreaterThan(1024 * 1024);
    expect(b.cpuTimeMs).toBeGreaterThanOrEqual(a.cpuTimeMs + 30);
    expect(a.processIo).not.toBeNull();
  });
});
