/**
 * The DNS wire format (RFC 1035 §4) as far as the DNS traffic driver needs it: queries,
 * RFC 2136 UPDATE messages, and responses (with name decompression). Encoding never
 * compresses names, so an encoded message is also the canonical form TSIG signs. Pure.
 *
 * Record data is kept raw (`data`), except where a caller decodes it (A records, TSIG).
 */

/** Resource record types used here. */
export const RRTYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, AAAA: 28, OPT: 41, TSIG: 250, ANY: 255 } as const;
/** Classes: IN for data; NONE and ANY carry RFC 2136 deletions; ANY also TSIG. */
export const RRCLASS = { IN: 1, NONE: 254, ANY: 255 } as const;
/** Opcodes used here. */
export const OPCODE = { QUERY: 0, UPDATE: 5 } as const;
/** Response code names by value (RFC 1035, RFC 2136). */
export const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'] as const;

/** The name of a response code (`RCODE15` for values without one). */
export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `RCODE${rcode}`;
}

export interface Question {
  name: string;
  type: number;
  class: number;
}

export interface ResourceRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  /** Raw RDATA (names inside may be compression pointers into the message they came from). */
  data: Uint8Array;
}

/** Header flags (RFC 1035 §4.1.1). */
export interface Flags {
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  rcode: number;
}

/**
 * A DNS message. In an UPDATE the sections are named zone, prerequisite, update and additional
 * (RFC 2136 §2); they sit where question, answer, authority and additional sit in a query.
 */
export interface Message {
  id: number;
  flags: Flags;
  questions: Question[];
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  additionals: ResourceRecord[];
}

/** A decoded message plus where each additional record starts (TSIG verification needs it). */
export interface DecodedMessage extends Message {
  additionalOffsets: number[];
}

/** A malformed name or message; the driver turns it into a TrafficProtocolError. */
export class DnsWireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DnsWireError';
  }
}

const DEFAULT_FLAGS: Flags = { qr: false, opcode: 0, aa: false, tc: false, rd: false, ra: false, rcode: 0 };

/** A message with default flags and empty sections, overridden by `m`. */
export function message(m: Partial<Omit<Message, 'flags'>> & { id: number; flags?: Partial<Flags> }): Message {
  return {
    id: m.id,
    flags: { ...DEFAULT_FLAGS, ...m.flags },
    questions: m.questions ?? [],
    answers: m.answers ?? [],
    authorities: m.authorities ?? [],
    additionals: m.additionals ?? [],
  };
}

/** `a.b.` and `a.b` are the same name; the root is `''`. */
export function normalizeName(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

/** A name in wire form, uncompressed (lowercased when `canonical`, as TSIG's MAC needs). */
export function encodeName(name: string, canonical = false): Buffer {
  const n = normalizeName(canonical ? name.toLowerCase() : name);
  const parts: Buffer[] = [];
  if (n !== '') {
    for (const label of n.split('.')) {
      const b = Buffer.from(label, 'ascii');
      if (b.length === 0 || b.length > 63) throw new DnsWireError(`bad label in name ${JSON.stringify(name)}`);
      parts.push(Buffer.from([b.length]), b);
    }
  }
  parts.push(Buffer.from([0]));
  const out = Buffer.concat(parts);
  if (out.length > 255) throw new DnsWireError(`name too long: ${name}`);
  return out;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** The 12-byte header. */
export function encodeHeader(id: number, f: Flags, counts: readonly [number, number, number, number]): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(id);
  b.writeUInt16BE(((f.qr ? 1 : 0) << 15) | ((f.opcode & 0xf) << 11) | ((f.aa ? 1 : 0) << 10) | ((f.tc ? 1 : 0) << 9) | ((f.rd ? 1 : 0) << 8) | ((f.ra ? 1 : 0) << 7) | (f.rcode & 0xf), 2);
  counts.forEach((c, i) => b.writeUInt16BE(c, 4 + 2 * i));
  return b;
}

/** One resource record in wire form. */
export function encodeRecord(r: ResourceRecord): Buffer {
  return Buffer.concat([encodeName(r.name), u16(r.type), u16(r.class), u32(r.ttl), u16(r.data.length), Buffer.from(r.data)]);
}

/** A whole message in wire form (no compression). */
export function encodeMessage(m: Message): Buffer {
  const parts = [encodeHeader(m.id, m.flags, [m.questions.length, m.answers.length, m.authorities.length, m.additionals.length])];
  for (const q of m.questions) parts.push(encodeName(q.name), u16(q.type), u16(q.class));
  for (const r of [...m.answers, ...m.authorities, ...m.additionals]) parts.push(encodeRecord(r));
  return Buffer.concat(parts);
}

/** Reads a possibly compressed name at `offset`; returns it and the offset after it. */
export function decodeName(buf: Uint8Array, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = offset;
  let next = -1;
  let jumps = 0;
  for (;;) {
    if (pos >= buf.length) throw new DnsWireError('name runs past the message');
    const len = buf[pos];
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= buf.length) throw new DnsWireError('truncated compression pointer');
      if (++jumps > 64) throw new DnsWireError('compression loop');
      if (next < 0) next = pos + 2;
      pos = ((len & 0x3f) << 8) | buf[pos + 1];
      continue;
    }
    if (len & 0xc0) throw new DnsWireError(`bad label type 0x${len.toString(16)}`);
    if (len === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    if (pos + 1 + len > buf.length) throw new DnsWireError('label runs past the message');
    labels.push(Buffer.from(buf.subarray(pos + 1, pos + 1 + len)).toString('ascii'));
    pos += 1 + len;
  }
  return { name: labels.join('.'), next };
}

/** Decodes a whole message; throws {@link DnsWireError} when it is malformed. */
export function decodeMessage(buf: Uint8Array): DecodedMessage {
  if (buf.length < 12) throw new DnsWireError(`message too short (${buf.length} bytes)`);
  const v = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const w = v.readUInt16BE(2);
  const flags: Flags = {
    qr: (w & 0x8000) !== 0,
    opcode: (w >> 11) & 0xf,
    aa: (w & 0x400) !== 0,
    tc: (w & 0x200) !== 0,
    rd: (w & 0x100) !== 0,
    ra: (w & 0x80) !== 0,
    rcode: w & 0xf,
  };
  const counts = [v.readUInt16BE(4), v.readUInt16BE(6), v.readUInt16BE(8), v.readUInt16BE(10)];
  let pos = 12;
  const questions: Question[] = [];
  for (let i = 0; i < counts[0]; i++) {
    const { name, next } = decodeName(v, pos);
    if (next + 4 > v.length) throw new DnsWireError('question runs past the message');
    questions.push({ name, type: v.readUInt16BE(next), class: v.readUInt16BE(next + 2) });
    pos = next + 4;
  }
  const sections: ResourceRecord[][] = [[], [], []];
  const additionalOffsets: number[] = [];
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]; i++) {
      if (s === 2) additionalOffsets.push(pos);
      const { name, next } = decodeName(v, pos);
      if (next + 10 > v.length) throw new DnsWireError('record runs past the message');
      const len = v.readUInt16BE(next + 8);
      if (next + 10 + len > v.length) throw new DnsWireError('record data runs past the message');
      sections[s].push({
        name,
        type: v.readUInt16BE(next),
        class: v.readUInt16BE(next + 2),
        ttl: v.readUInt32BE(next + 4),
        data: v.subarray(next + 10, next + 10 + len),
      });
      pos = next + 10 + len;
    }
  }
  return { id: v.readUInt16BE(0), flags, questions, answers: sections[0], authorities: sections[1], additionals: sections[2], additionalOffsets };
}

/** RDATA of an A record. */
export function aData(ipv4: string): Uint8Array {
  const parts = ipv4.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new DnsWireError(`not an IPv4 address: ${ipv4}`);
  return Uint8Array.from(parts);
}

/** The address in an A record's RDATA. */
export function parseAData(data: Uint8Array): string {
  if (data.length !== 4) throw new DnsWireError(`A record data of ${data.length} bytes`);
  return Array.from(data).join('.');
}

/** Case-insensitive name equality (trailing dots ignored). */
export function sameName(a: string, b: string): boolean {
  return normalizeName(a).toLowerCase() === normalizeName(b).toLowerCase();
}
