/**
 * TSIG (RFC 8945): signing requests and verifying responses with a shared HMAC key, with
 * node:crypto. Pure: the time is passed in (seconds since the epoch), so tests need no clock.
 *
 * Request MAC = HMAC(message without TSIG ‖ TSIG variables).
 * Response MAC = HMAC(len ‖ request MAC ‖ response without TSIG, ARCOUNT - 1, original id ‖
 * TSIG variables). Variables = key name (canonical), class ANY, TTL 0, algorithm name
 * (canonical), time signed (48 bits), fudge, error, other length, other data.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { DnsWireError, RRCLASS, RRTYPE, decodeName, encodeName, encodeRecord, sameName, type DecodedMessage } from './wire.js';

/** HMAC algorithms TSIG names (RFC 8945 §6), by their TSIG name. */
export const TSIG_ALGORITHMS = {
  'hmac-sha1': 'sha1',
  'hmac-sha224': 'sha224',
  'hmac-sha256': 'sha256',
  'hmac-sha384': 'sha384',
  'hmac-sha512': 'sha512',
} as const;
export type TsigAlgorithm = keyof typeof TSIG_ALGORITHMS;

/** A TSIG key as BIND's `tsig-keygen` prints it. The secret never appears in logs or errors. */
export interface TsigKey {
  /** The key's name (`umbra-key`), as in `key "umbra-key" { ... }`. */
  name: string;
  algorithm: TsigAlgorithm;
  /** The shared secret (decoded from base64). */
  secret: Buffer;
}

/** TSIG error codes (RFC 8945 §3). */
export const TSIG_ERRORS: Readonly<Record<number, string>> = { 16: 'BADSIG', 17: 'BADKEY', 18: 'BADTIME', 22: 'BADTRUNC' };

/** The decoded RDATA of a TSIG record. */
export interface TsigRecord {
  keyName: string;
  algorithm: string;
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  other: Buffer;
}

/** Default fudge: the clock skew a signature tolerates, in seconds (BIND's default too). */
export const DEFAULT_FUDGE = 300;

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u48(n: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntBE(n, 0, 6);
  return b;
}

/** The TSIG variables the MAC covers after the message. */
function variables(keyName: string, algorithm: string, timeSigned: number, fudge: number, error: number, other: Buffer): Buffer {
  return Buffer.concat([
    encodeName(keyName, true),
    u16(RRCLASS.ANY),
    Buffer.alloc(4), // TTL 0
    encodeName(algorithm, true),
    u48(timeSigned),
    u16(fudge),
    u16(error),
    u16(other.length),
    other,
  ]);
}

function hmac(key: TsigKey, parts: readonly Buffer[]): Buffer {
  const h = createHmac(TSIG_ALGORITHMS[key.algorithm], key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

/**
 * Signs an encoded message: appends a TSIG record (and counts it in ARCOUNT). Returns the
 * signed message and its MAC, which verifying the response needs.
 */
export function signMessage(unsigned: Buffer, key: TsigKey, timeSigned: number, fudge = DEFAULT_FUDGE): { wire: Buffer; mac: Buffer } {
  const id = unsigned.readUInt16BE(0);
  const mac = hmac(key, [unsigned, variables(key.name, key.algorithm, timeSigned, fudge, 0, Buffer.alloc(0))]);
  const rdata = Buffer.concat([encodeName(key.algorithm, true), u48(timeSigned), u16(fudge), u16(mac.length), mac, u16(id), u16(0), u16(0)]);
  const rr = encodeRecord({ name: key.name.toLowerCase(), type: RRTYPE.TSIG, class: RRCLASS.ANY, ttl: 0, data: rdata });
  const wire = Buffer.concat([unsigned, rr]);
  wire.writeUInt16BE(unsigned.readUInt16BE(10) + 1, 10);
  return { wire, mac };
}

/** Decodes a TSIG record's RDATA (names in TSIG are never compressed). */
export function parseTsigData(keyName: string, data: Uint8Array): TsigRecord {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const { name: algorithm, next } = decodeName(b, 0);
  let p = next;
  const need = (n: number) => {
    if (p + n > b.length) throw new DnsWireError('truncated TSIG record');
  };
  need(10);
  const timeSigned = b.readUIntBE(p, 6);
  const fudge = b.readUInt16BE(p + 6);
  const macLen = b.readUInt16BE(p + 8);
  p += 10;
  need(macLen + 6);
  const mac = Buffer.from(b.subarray(p, p + macLen));
  p += macLen;
  const originalId = b.readUInt16BE(p);
  const error = b.readUInt16BE(p + 2);
  const otherLen = b.readUInt16BE(p + 4);
  p += 6;
  need(otherLen);
  return { keyName, algorithm, timeSigned, fudge, mac, originalId, error, other: Buffer.from(b.subarray(p, p + otherLen)) };
}

/** The outcome of checking a response's signature. */
export type TsigVerdict =
  | { status: 'verified'; tsig: TsigRecord }
  /** The response carries no TSIG record. */
  | { status: 'unsigned' }
  /** The server reports a TSIG error (BADKEY, BADSIG...): such answers carry no MAC to check. */
  | { status: 'server-error'; tsig: TsigRecord; error: string }
  /** The signature is wrong, stale, or from another key: the answer must not be trusted. */
  | { status: 'invalid'; reason: string };

/**
 * Checks the TSIG record of a response to a request signed with `key` whose MAC was
 * `requestMac`. `raw` is the response as received, `decoded` its decoding, `now` in seconds.
 */
export function verifyResponse(raw: Buffer, decoded: DecodedMessage, key: TsigKey, requestMac: Buffer, now: number): TsigVerdict {
  const n = decoded.additionals.length;
  const last = n ? decoded.additionals[n - 1] : undefined;
  if (!last || last.type !== RRTYPE.TSIG) {
    return decoded.additionals.some((r) => r.type === RRTYPE.TSIG) ? { status: 'invalid', reason: 'TSIG record is not the last record' } : { status: 'unsigned' };
  }
  let tsig: TsigRecord;
  try {
    tsig = parseTsigData(last.name, last.data);
  } catch (e) {
    return { status: 'invalid', reason: (e as Error).message };
  }
  if (tsig.error !== 0) return { status: 'server-error', tsig, error: TSIG_ERRORS[tsig.error] ?? `TSIG error ${tsig.error}` };
  if (!sameName(tsig.keyName, key.name)) return { status: 'invalid', reason: `signed with key ${tsig.keyName}, expected ${key.name}` };
  if (!sameName(tsig.algorithm, key.algorithm)) return { status: 'invalid', reason: `signed with ${tsig.algorithm}, expected ${key.algorithm}` };
  const stripped = Buffer.from(raw.subarray(0, decoded.additionalOffsets[n - 1]));
  stripped.writeUInt16BE(tsig.originalId, 0);
  stripped.writeUInt16BE(n - 1, 10);
  const expected = hmac(key, [u16(requestMac.length), requestMac, stripped, variables(key.name, key.algorithm, tsig.timeSigned, tsig.fudge, 0, tsig.other)]);
  // A truncated MAC (RFC 8945 §5.2.2.1) must keep at least half the digest and 10 bytes.
  const len = tsig.mac.length;
  if (len < Math.max(10, expected.length / 2) || len > expected.length || !timingSafeEqual(tsig.mac, expected.subarray(0, len))) {
    return { status: 'invalid', reason: 'MAC does not verify' };
  }
  if (Math.abs(now - tsig.timeSigned) > tsig.fudge) return { status: 'invalid', reason: `signed ${now - tsig.timeSigned} s ago, beyond the fudge of ${tsig.fudge} s` };
  return { status: 'verified', tsig };
}

/**
 * Reads a key from BIND's `key "NAME" { algorithm ALG; secret "BASE64"; };` text (what
 * `tsig-keygen` prints and named.conf includes). Throws when the text holds no usable key.
 */
export function parseBindKey(text: string): TsigKey {
  const m = /key\s+"?([^"\s{]+)"?\s*\{([^}]*)\}/.exec(text);
  if (!m) throw new Error('no key statement found');
  const alg = /algorithm\s+"?([A-Za-z0-9-]+)"?\s*;/.exec(m[2])?.[1]?.toLowerCase();
  const secret = /secret\s+"([A-Za-z0-9+/=]+)"\s*;/.exec(m[2])?.[1];
  if (!alg || !(alg in TSIG_ALGORITHMS)) throw new Error(`unsupported or missing algorithm ${alg ?? ''}`.trim());
  if (!secret) throw new Error('missing secret');
  return { name: m[1], algorithm: alg as TsigAlgorithm, secret: Buffer.from(secret, 'base64') };
}

/** BIND's text for a key, for named.conf (the inverse of {@link parseBindKey}). */
export function renderBindKey(key: TsigKey): string {
  return `key "${key.name}" {\n\talgorithm ${key.algorithm};\n\tsecret "${key.secret.toString('base64')}";\n};\n`;
}
