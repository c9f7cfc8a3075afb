/**
 * The DNS traffic driver: a service `S` is the name `S.<zone>`, and its traffic goes where that
 * name's A record points. Changes are RFC 2136 UPDATEs (delete the A RRset, add one record, in
 * one atomic message) signed with TSIG; observations are plain A queries to the same
 * authoritative server (signed too, when a key is set, and their answers verified).
 *
 * DNS publishes an ADDRESS only: the backend's host becomes the A record, its port is not
 * published (clients keep connecting to the port they know, so the service must listen on the
 * same port on every host). Observed targets therefore have `port: null`, and their health is
 * `unknown` (DNS does not check). Clients and resolvers cache answers for the record's TTL, so
 * keep it small (default 5 s): the switch takes effect for a client when its cache expires.
 */
import { randomInt } from 'node:crypto';
import { systemClock, type Clock } from '../../core/clock.js';
import { KeyedMutex } from '../../core/keyed-mutex.js';
import {
  TrafficCommandError,
  TrafficProtocolError,
  TrafficRefusedError,
  TrafficRequestInvalidError,
  type TrafficErrorContext,
} from '../errors.js';
import { assertValidRequest, type Backend, type EnsureOptions, type EnsureResult, type RouteState, type TrafficSwitch } from '../switch.js';
import { exchange, type DnsServer } from './transport.js';
import { signMessage, verifyResponse, type TsigKey } from './tsig.js';
import {
  DnsWireError,
  OPCODE,
  RRCLASS,
  RRTYPE,
  aData,
  decodeMessage,
  encodeMessage,
  message,
  normalizeName,
  parseAData,
  rcodeName,
  sameName,
  type DecodedMessage,
  type Message,
} from './wire.js';

export interface DnsSwitchOptions {
  /** The zone's primary (authoritative) server. */
  server: DnsServer;
  /** The zone the service names live in (`umbra.test`). */
  zone: string;
  /** Signs every message (updates need it where the zone says `allow-update { key ... }`). */
  key?: TsigKey;
  /** TTL of the published records, seconds (default 5). */
  ttl?: number;
  /** Per attempt (default 1000 ms). */
  timeoutMs?: number;
  /** UDP sends per message (default 2). */
  attempts?: number;
  /** Always use TCP (default: UDP, TCP when an answer is truncated). */
  tcp?: boolean;
  /** For TSIG time stamps. */
  clock?: Clock;
}

/** The A records of a name, as observed. */
export interface ARecords {
  name: string;
  records: { address: string; ttl: number }[];
}

/**
 * What an ensure must send: nothing when the name holds exactly the backend's address with the
 * wanted TTL, else one UPDATE that deletes the RRset and adds the address. Pure.
 */
export function planDnsEnsure(observed: ARecords, host: string, ttl: number): 'none' | 'replace' {
  const r = observed.records;
  return r.length === 1 && r[0].address === host && r[0].ttl === ttl ? 'none' : 'replace';
}

/** A {@link TrafficSwitch} over RFC 2136 dynamic updates. */
export class DnsTrafficSwitch implements TrafficSwitch {
  readonly name = 'dns';
  readonly capabilities = { routesPort: false, checksHealth: false, ipv6: false };
  private readonly zone: string;
  private readonly ttl: number;
  private readonly clock: Clock;
  private readonly lock = new KeyedMutex();

  constructor(private readonly opts: DnsSwitchOptions) {
    this.zone = normalizeName(opts.zone);
    this.ttl = opts.ttl ?? 5;
    this.clock = opts.clock ?? systemClock;
    const problems: string[] = [];
    if (!/^([A-Za-z0-9_-]{1,63}\.)*[A-Za-z0-9_-]{1,63}$/.test(this.zone)) problems.push(`zone ${JSON.stringify(opts.zone)}: not a domain name`);
    if (!Number.isInteger(this.ttl) || this.ttl < 0 || this.ttl > 86_400) problems.push(`ttl ${this.ttl}: must be an integer in 0..86400`);
    if (problems.length) throw new TrafficRequestInvalidError(problems, { driver: 'dns' });
  }

  /** The DNS name of a service. */
  nameOf(service: string): string {
    return `${service}.${this.zone}`;
  }

  async observe(service: string): Promise<RouteState> {
    assertValidRequest(service, undefined, { ipv6: false }, { driver: 'dns', op: 'observe' });
    return toState(service, await this.readA(service, 'observe'));
  }

  async ensure(service: string, backend: Backend, _opts: EnsureOptions = {}): Promise<EnsureResult> {
    const ctx = { driver: 'dns', op: 'ensure', service };
    assertValidRequest(service, backend, { ipv6: false }, ctx);
    // One change per service at a time: the last caller's backend wins.
    return this.lock.run(service, () => this.ensureLocked(service, backend, ctx));
  }

  private async ensureLocked(service: string, backend: Backend, ctx: TrafficErrorContext): Promise<EnsureResult> {
    const observed = await this.readA(service, 'ensure');
    const before = toState(service, observed);
    if (planDnsEnsure(observed, backend.host, this.ttl) === 'none') return { changed: false, actions: [], before };
    const name = this.nameOf(service);
    await this.update(
      [
        // RFC 2136 §2.5.2: delete an RRset = class ANY, TTL 0, no data.
        { name, type: RRTYPE.A, class: RRCLASS.ANY, ttl: 0, data: new Uint8Array(0) },
        { name, type: RRTYPE.A, class: RRCLASS.IN, ttl: this.ttl, data: aData(backend.host) },
      ],
      ctx,
    );
    return { changed: true, actions: [`update ${name} A: delete all, add ${backend.host} ttl ${this.ttl}`], before };
  }

  async disable(service: string): Promise<EnsureResult> {
    const ctx = { driver: 'dns', op: 'disable', service };
    assertValidRequest(service, undefined, { ipv6: false }, ctx);
    return this.lock.run(service, () => this.disableLocked(service, ctx));
  }

  private async disableLocked(service: string, ctx: TrafficErrorContext): Promise<EnsureResult> {
    const observed = await this.readA(service, 'disable');
    const before = toState(service, observed);
    if (!observed.records.length) return { changed: false, actions: [], before };
    const name = this.nameOf(service);
    await this.update([{ name, type: RRTYPE.A, class: RRCLASS.ANY, ttl: 0, data: new Uint8Array(0) }], ctx);
    return { changed: true, actions: [`update ${name} A: delete all`], before };
  }

  async close(): Promise<void> {
    // Every exchange uses its own socket: nothing is held between calls.
  }

  /** The A records of the service's name, read from the authoritative server. */
  async readA(service: string, op: string): Promise<ARecords> {
    const ctx: TrafficErrorContext = { driver: 'dns', op, service };
    const name = this.nameOf(service);
    const q = message({ id: randomInt(0, 0x10000), flags: { opcode: OPCODE.QUERY }, questions: [{ name, type: RRTYPE.A, class: RRCLASS.IN }] });
    const res = await this.send(q, ctx);
    const rcode = rcodeName(res.flags.rcode);
    if (rcode === 'NXDOMAIN') return { name, records: [] };
    if (rcode !== 'NOERROR') throw rcodeError(res.flags.rcode, undefined, `query ${name} A`, ctx);
    if (!res.flags.aa) throw new TrafficProtocolError(`${this.opts.server.host}:${this.opts.server.port} is not authoritative for ${name}`, ctx);
    const records = res.answers
      .filter((r) => r.type === RRTYPE.A && r.class === RRCLASS.IN && sameName(r.name, name))
      .map((r) => ({ address: parseAData(r.data), ttl: r.ttl }))
      .sort((a, b) => a.address.localeCompare(b.address));
    return { name, records };
  }

  private async update(updates: Message['authorities'], ctx: TrafficErrorContext): Promise<void> {
    const m = message({
      id: randomInt(0, 0x10000),
      flags: { opcode: OPCODE.UPDATE },
      questions: [{ name: this.zone, type: RRTYPE.SOA, class: RRCLASS.IN }],
      authorities: updates,
    });
    const res = await this.send(m, ctx);
    if (res.flags.rcode !== 0) throw rcodeError(res.flags.rcode, undefined, `update of zone ${this.zone}`, ctx);
  }

  /** Signs (when keyed), sends, decodes, checks id, opcode and signature. */
  private async send(m: Message, ctx: TrafficErrorContext): Promise<DecodedMessage> {
    const unsigned = encodeMessage(m);
    const key = this.opts.key;
    const signed = key ? signMessage(unsigned, key, Math.floor(this.clock.now() / 1000)) : { wire: unsigned, mac: undefined };
    const raw = await exchange(this.opts.server, signed.wire, {
      timeoutMs: this.opts.timeoutMs ?? 1000,
      attempts: this.opts.attempts ?? 2,
      tcp: this.opts.tcp,
      context: ctx,
    });
    let res: DecodedMessage;
    try {
      res = decodeMessage(raw);
    } catch (e) {
      throw new TrafficProtocolError(`malformed DNS answer: ${(e as DnsWireError).message}`, ctx, e);
    }
    if (res.id !== m.id || !res.flags.qr || res.flags.opcode !== m.flags.opcode) throw new TrafficProtocolError('DNS answer does not match the request', ctx);
    if (key && signed.mac) {
      const v = verifyResponse(raw, res, key, signed.mac, Math.floor(this.clock.now() / 1000));
      if (v.status === 'server-error') throw rcodeError(res.flags.rcode, v.error, 'signed request', ctx);
      if (v.status === 'invalid') throw new TrafficProtocolError(`DNS answer's TSIG signature is invalid: ${v.reason}`, ctx);
      // An unsigned answer to a signed request is only believed when it reports a failure.
      if (v.status === 'unsigned' && res.flags.rcode === 0) throw new TrafficProtocolError('DNS answer to a signed request is unsigned', ctx);
    }
    return res;
  }
}

/** The typed error for a failing response code (and the TSIG error the server named, if any). */
function rcodeError(rcode: number, tsigError: string | undefined, what: string, ctx: TrafficErrorContext) {
  const name = rcodeName(rcode);
  const msg = `${what}: ${name}${tsigError ? ` (${tsigError})` : ''}`;
  if (name === 'REFUSED' || name === 'NOTAUTH' || tsigError) return new TrafficRefusedError(msg, name, tsigError, ctx);
  // SERVFAIL may pass (a zone still loading); NOTZONE, FORMERR, NOTIMP... need another config.
  return new TrafficCommandError(msg, name, ctx, { retryable: name === 'SERVFAIL' });
}

function toState(service: string, a: ARecords): RouteState {
  return { service, targets: a.records.map((r) => ({ host: r.address, port: null, enabled: true, health: 'unknown' as const })) };
}
