/**
 * Sending one DNS message and getting its answer: UDP first, TCP (2-byte length prefix) when
 * the answer comes back truncated or when asked. A thin I/O layer; failures are
 * {@link TrafficUnavailableError} (retryable).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { TrafficUnavailableError, type TrafficErrorContext } from '../errors.js';

/** A DNS server's address. */
export interface DnsServer {
  host: string;
  port: number;
}

export interface ExchangeOptions {
  /** Per attempt. */
  timeoutMs: number;
  /** UDP sends before giving up (a lost datagram is resent). */
  attempts: number;
  /** Skip UDP. */
  tcp?: boolean;
  /** Added to errors. */
  context?: TrafficErrorContext;
}

/** Sends `wire` (whose id is its first two bytes) and resolves with the raw answer. */
export async function exchange(server: DnsServer, wire: Buffer, opts: ExchangeOptions): Promise<Buffer> {
  if (!opts.tcp) {
    const answer = await exchangeUdp(server, wire, opts);
    // TC: the answer did not fit in a datagram; ask again over TCP (RFC 1035 §4.2.1).
    if (answer.length >= 3 && (answer[2] & 0x02) === 0) return answer;
  }
  return exchangeTcp(server, wire, opts);
}

function exchangeUdp(server: DnsServer, wire: Buffer, opts: ExchangeOptions): Promise<Buffer> {
  const id = wire.readUInt16BE(0);
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(net.isIPv6(server.host) ? 'udp6' : 'udp4');
    let attempt = 0;
    let timer: NodeJS.Timeout | undefined;
    const done = (err: Error | null, answer?: Buffer) => {
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(answer!);
    };
    const send = () => {
      attempt++;
      sock.send(wire, server.port, server.host, (err) => {
        if (err) done(new TrafficUnavailableError(`DNS server ${server.host}:${server.port}: ${err.message}`, opts.context, err));
      });
      timer = setTimeout(() => {
        if (attempt < opts.attempts) send();
        else done(new TrafficUnavailableError(`DNS server ${server.host}:${server.port} did not answer in ${opts.attempts} × ${opts.timeoutMs} ms`, opts.context));
      }, opts.timeoutMs);
    };
    sock.on('message', (msg, rinfo) => {
      // Only the server's answer to this id counts (anything else is noise or spoofing).
      if (rinfo.port !== server.port || msg.length < 12 || msg.readUInt16BE(0) !== id) return;
      done(null, msg);
    });
    sock.on('error', (err) => done(new TrafficUnavailableError(`DNS server ${server.host}:${server.port}: ${err.message}`, opts.context, err)));
    send();
  });
}

function exchangeTcp(server: DnsServer, wire: Buffer, opts: ExchangeOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: server.host, port: server.port });
    let buf = Buffer.alloc(0);
    let settled = false;
    const timer = setTimeout(() => fail(new Error(`no answer in ${opts.timeoutMs} ms`)), opts.timeoutMs);
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      reject(new TrafficUnavailableError(`DNS server ${server.host}:${server.port} (TCP): ${err.message}`, opts.context, err));
    };
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(wire.length);
      sock.write(Buffer.concat([len, wire]));
    });
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!settled && buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        settled = true;
        clearTimeout(timer);
        sock.destroy();
        resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      }
    });
    sock.on('error', fail);
    sock.on('close', () => fail(new Error('connection closed before the answer')));
  });
}
