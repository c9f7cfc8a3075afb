import { describe, expect, it } from 'vitest';
import { DnsWireError, OPCODE, RRCLASS, RRTYPE, aData, decodeMessage, decodeName, encodeMessage, encodeName, message, parseAData, rcodeName, sameName } from './wire.js';

describe('DNS wire format', () => {
  it('round-trips an RFC 2136 UPDATE (zone, delete RRset, add record)', () => {
    const m = message({
      id: 0xbeef,
      flags: { opcode: OPCODE.UPDATE },
      questions: [{ name: 'umbra.test', type: RRTYPE.SOA, class: RRCLASS.IN }],
      authorities: [
        { name: 'vm-1.umbra.test', type: RRTYPE.A, class: RRCLASS.ANY, ttl: 0, data: new Uint8Array(0) },
        { name: 'vm-1.umbra.test', type: RRTYPE.A, class: RRCLASS.IN, ttl: 5, data: aData('10.0.0.2') },
      ],
    });
    const wire = encodeMessage(m);
    // Header: id, opcode 5 in bits 11-14, counts 1/0/2/0.
    expect(wire.subarray(0, 12).toString('hex')).toBe('beef2800000100000002' + '0000');
    const d = decodeMessage(wire);
    expect(d.flags).toMatchObject({ qr: false, opcode: 5, rcode: 0 });
    expect(d.questions).toEqual(m.questions);
    expect(d.authorities.map((r) => ({ ...r, data: Array.from(r.data) }))).toEqual(m.authorities.map((r) => ({ ...r, data: Array.from(r.data) })));
    expect(parseAData(d.authorities[1].data)).toBe('10.0.0.2');
  });

  it('follows compression pointers and rejects loops and truncation', () => {
    // "umbra.test" at 0, then "vm-1" + pointer to 0.
    const buf = Buffer.concat([encodeName('umbra.test'), Buffer.from([4, ...Buffer.from('vm-1'), 0xc0, 0x00])]);
    expect(decodeName(buf, 12)).toEqual({ name: 'vm-1.umbra.test', next: 19 });
    expect(() => decodeName(Buffer.from([0xc0, 0x00]), 0)).toThrow(DnsWireError);
    expect(() => decodeName(Buffer.from([5, 0x61]), 0)).toThrow(/past/);
    expect(() => decodeMessage(Buffer.alloc(5))).toThrow(/too short/);
    const cut = encodeMessage(message({ id: 1, questions: [{ name: 'a.b', type: 1, class: 1 }] }));
    expect(() => decodeMessage(cut.subarray(0, cut.length - 2))).toThrow(DnsWireError);
  });

  it('encodes names canonically for TSIG and refuses bad labels', () => {
    expect(encodeName('Umbra-Key.', true).toString('hex')).toBe(encodeName('umbra-key').toString('hex'));
    expect(encodeName('').toString('hex')).toBe('00');
    expect(() => encodeName('a..b')).toThrow(/bad label/);
    expect(() => encodeName(`${'x'.repeat(64)}.test`)).toThrow(/bad label/);
  });

  it('reads and writes A data, names response codes, compares names', () => {
    expect(Array.from(aData('127.0.0.1'))).toEqual([127, 0, 0, 1]);
    expect(() => aData('::1')).toThrow(DnsWireError);
    expect(() => parseAData(new Uint8Array(3))).toThrow(DnsWireError);
    expect([rcodeName(5), rcodeName(9), rcodeName(15)]).toEqual(['REFUSED', 'NOTAUTH', 'RCODE15']);
    expect(sameName('VM-1.umbra.test.', 'vm-1.UMBRA.test')).toBe(true);
  });
});
