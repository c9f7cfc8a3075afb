import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { tcpUnreachable } from './reachable.js';

describe('tcpReachable', () => {
  it('null for a listening port, the reason for a closed one', async () => {
    const server = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    expect(await tcpUnreachable({ host: '127.0.0.1', port })).toBeNull();
    await new Promise<void>((r) => server.close(() => r()));
    expect(await tcpUnreachable({ host: '127.0.0.1', port }, 500)).toBe('Connection refused');
  });

  it('a reason when nothing answers within the deadline (a blackholed address)', async () => {
    // 192.0.2.0/24 is TEST-NET-1: never routed; the connect either fails at once or times out.
    const t0 = performance.now();
    expect(await tcpUnreachable({ host: '192.0.2.1', port: 10809 }, 300)).toBeTypeOf('string');
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});
