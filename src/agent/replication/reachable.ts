/**
 * Is a replication target reachable? A TCP connect with a short deadline, made by the agent
 * BEFORE asking QEMU to connect: QEMU 7.2 opens an NBD target from its main loop, and a target
 * behind a cut link would hold that loop (and every QMP command) until the kernel gives up on
 * the connection, which takes minutes.
 */
import net from 'node:net';
import type { NbdTargetRef } from '../../api/shadow-protocol.js';

/** Resolves true when `host:port` accepts a TCP connection within `timeoutMs`. Never rejects. */
export function tcpReachable(target: Pick<NbdTargetRef, 'host' | 'port'>, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: target.host, port: target.port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    // Wall time: an I/O deadline, not domain time.
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}
