/**
 * Is a replication target reachable? A TCP connect with a short deadline, made by the agent
 * BEFORE asking QEMU to connect: QEMU 7.2 opens an NBD target from its main loop, and a target
 * behind a cut link would hold that loop (and every QMP command) until the kernel gives up on
 * the connection, which takes minutes.
 */
import net from 'node:net';
import type { NbdTargetRef } from '../../api/shadow-protocol.js';

/**
 * Null when `host:port` accepts a TCP connection within `timeoutMs`, else why not (`Connection
 * refused`, `no answer within 2000 ms`, ...). Never rejects.
 */
export function tcpUnreachable(target: Pick<NbdTargetRef, 'host' | 'port'>, timeoutMs = 2000): Promise<string | null> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: target.host, port: target.port });
    const done = (why: string | null) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(why);
    };
    // Wall time: an I/O deadline, not domain time.
    const timer = setTimeout(() => done(`no answer within ${timeoutMs} ms`), timeoutMs);
    sock.once('connect', () => done(null));
    sock.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED' ? 'Connection refused' : e.message));
  });
}
