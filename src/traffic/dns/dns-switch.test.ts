/**
 * The DNS driver's decisions and its handling of odd answers, against a scripted DNS server on
 * loopback (the real-BIND tests are in test/traffic-dns.test.ts).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DnsTrafficSwitch, planDnsEnsure } from './dns-switch.js';
import { RRCLASS, RRTYPE, aData, decodeMessage, encodeMessage, message, type DecodedMessage, type Message } from './wire.js';

type Script = (req: DecodedMessage) => Message | null;

const closers: (() => void)[] = [];
afterEach(() => {
  while (closers.length) closers.pop()!();
});

/** A UDP (and TCP, same port) DNS server that answers by `udp` and `tcp` scripts. */
async function fakeServer(udp: Script, tcp: Script = udp): Promise<number> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const port = sock.address().port;
  sock.on('message', (msg, rinfo) => {
    const res = udp(decodeMessage(msg));
    if (res) sock.send(encodeMessage(res), rinfo.port, rinfo.address);
  });
  const srv = net.createServer((c) => {
    c.on('data', (d: Buffer) => {
      const res = tcp(decodeMessage(d.subarray(2)));
      if (!res) return c.end();
      const wire = encodeMessage(res);
      const len = Buffer.alloc(2);
      len.writeUInt16BE(wire.length);
      c.end(Buffer.concat([len, wire]));
    });
  });
  await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
  closers.push(() => sock.close(), () => srv.close());
  return port;
}

const answerA = (req: DecodedMessage, address: string, extra: Partial<Message['flags']> = {}): Message =>
  message({
    id: req.id,
    flags: { qr: true, aa: true, ...extra },
    questions: req.questions,
    answers: [{ name: req.questions[0].name, type: RRTYPE.A, class: RRCLASS.IN, ttl: 5, data: aData(address) }],
  });

const sw = (port: number, extra: Partial<ConstructorParameters<typeof DnsTrafficSwitch>[0]> = {}) =>
  new DnsTrafficSwitch({ server: { host: '127.0.0.1', port }, zone: 'umbra.test', timeoutMs: 150, attempts: 1, ...extra });

describe('planDnsEnsure', () => {
  const one = (address: string, ttl = 5) => ({ name: 'n', records: [{ address, ttl }] });
  it('sends nothing only when the name holds exactly the address with the TTL', () => {
    expect(planDnsEnsure(one('10.0.0.1'), '10.0.0.1', 5)).toBe('none');
    expect(planDnsEnsure(one('10.0.0.1', 60), '10.0.0.1', 5)).toBe('replace');
    expect(planDnsEnsure(one('10.0.0.2'), '10.0.0.1', 5)).toBe('replace');
    expect(planDnsEnsure({ name: 'n', records: [] }, '10.0.0.1', 5)).toBe('replace');
    expect(planDnsEnsure({ name: 'n', records: [{ address: '10.0.0.1', ttl: 5 }, { address: '10.0.0.2', ttl: 5 }] }, '10.0.0.1', 5)).toBe('replace');
  });
});

describe('DNS traffic switch against a scripted server', () => {
  it('observes A records of the service name (port unknown to DNS)', async () => {
    const port = await fakeServer((req) => answerA(req, '10.0.0.9'));
    expect(await sw(port).observe('vm-1')).toEqual({ service: 'vm-1', targets: [{ host: '10.0.0.9', port: null, enabled: true, health: 'unknown' }] });
  });

  it('NXDOMAIN is "no record", not an error', async () => {
    const port = await fakeServer((req) => message({ id: req.id, flags: { qr: true, aa: true, rcode: 3 }, questions: req.questions }));
    expect((await sw(port).observe('vm-1')).targets).toEqual([]);
  });

  it('an unsigned NOERROR answer to a signed request is not believed', async () => {
    const port = await fakeServer((req) => answerA(req, '10.0.0.9'));
    const key = { name: 'k', algorithm: 'hmac-sha256' as const, secret: Buffer.alloc(32, 1) };
    await expect(sw(port, { key }).observe('vm-1')).rejects.toMatchObject({ code: 'TRAFFIC_PROTOCOL', message: expect.stringMatching(/unsigned/) });
  });

  it('a non-authoritative answer is a protocol error (the driver must talk to the primary)', async () => {
    const port = await fakeServer((req) => answerA(req, '10.0.0.9', { aa: false }));
    await expect(sw(port).observe('vm-1')).rejects.toMatchObject({ code: 'TRAFFIC_PROTOCOL' });
  });

  it('SERVFAIL on an update is retryable, NOTZONE is not', async () => {
    let rcode = 2;
    const port = await fakeServer((req) =>
      req.flags.opcode === 5 ? message({ id: req.id, flags: { qr: true, opcode: 5, rcode }, questions: req.questions }) : answerA(req, '10.0.0.9'),
    );
    await expect(sw(port).ensure('vm-1', { host: '10.0.0.1', port: 80 })).rejects.toMatchObject({ code: 'TRAFFIC_COMMAND_FAILED', retryable: true, answer: 'SERVFAIL' });
    rcode = 10;
    await expect(sw(port).ensure('vm-1', { host: '10.0.0.1', port: 80 })).rejects.toMatchObject({ code: 'TRAFFIC_COMMAND_FAILED', retryable: false, answer: 'NOTZONE' });
  });

  it('ignores answers with another id, then times out as TRAFFIC_UNAVAILABLE', async () => {
    const port = await fakeServer((req) => answerA({ ...req, id: (req.id + 1) & 0xffff }, '10.0.0.9'));
    await expect(sw(port).observe('vm-1')).rejects.toMatchObject({ code: 'TRAFFIC_UNAVAILABLE', retryable: true });
  });

  it('asks again over TCP when the UDP answer is truncated', async () => {
    const port = await fakeServer(
      (req) => message({ id: req.id, flags: { qr: true, aa: true, tc: true }, questions: req.questions }),
      (req) => answerA(req, '10.0.0.7'),
    );
    expect((await sw(port).observe('vm-1')).targets.map((t) => t.host)).toEqual(['10.0.0.7']);
  });

  it('refuses bad options and IPv6 backends, listing every problem', () => {
    expect(() => new DnsTrafficSwitch({ server: { host: '127.0.0.1', port: 53 }, zone: 'bad zone', ttl: -1 })).toThrow(/zone .*ttl/);
    return expect(sw(1).ensure('vm-1', { host: '::1', port: 80 })).rejects.toMatchObject({ code: 'REQUEST_INVALID', problems: [expect.stringMatching(/IPv4/)] });
  });
});
