import { describe, expect, it } from 'vitest';
import { parseBindKey, parseTsigData, renderBindKey, signMessage, verifyResponse, type TsigKey } from './tsig.js';
import { RRCLASS, RRTYPE, decodeMessage, encodeMessage, encodeRecord, message } from './wire.js';

/**
 * Captured from BIND 9.18.49 (named, `tsig-keygen -a hmac-sha256 fixture-key`, a throwaway
 * key): our signed query for vm-1.umbra.test A, and named's signed answer (10.0.0.1, with
 * compressed names). named accepted the request's MAC; the answer's MAC is named's own.
 */
const FIXTURE = {
  secret: 'ej/qaWxcPawBBvZAcGvErbB9K6bt8B+zAWlSjPhPG1w=',
  now: 1795959187,
  request:
    '12340000000100000000000104766d2d3105756d627261047465737400000100010b666978747572652d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006b0c2993012c002058914e2733b7a7c4667689107f73253b8de85ad27805ac5fd4c2cd102e98c2b9123400000000',
  requestMac: '58914e2733b7a7c4667689107f73253b8de85ad27805ac5fd4c2cd102e98c2b9',
  response:
    '12348400000100010001000204766d2d3105756d62726104746573740000010001c00c000100010000000500040a000001c011000200010000003c0005026e73c011c03d000100010000003c00047f0000010b666978747572652d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006b0c2993012c002066d47588bd365653e76df8cc250058a8b3c6a29d8c72276bb9bafa8b4434609a123400000000',
};

const key: TsigKey = { name: 'fixture-key', algorithm: 'hmac-sha256', secret: Buffer.from(FIXTURE.secret, 'base64') };
const response = Buffer.from(FIXTURE.response, 'hex');
const requestMac = Buffer.from(FIXTURE.requestMac, 'hex');

describe('TSIG', () => {
  it('signs a query exactly as the request named accepted', () => {
    const q = message({ id: 0x1234, questions: [{ name: 'vm-1.umbra.test', type: RRTYPE.A, class: RRCLASS.IN }] });
    const { wire, mac } = signMessage(encodeMessage(q), key, FIXTURE.now);
    expect(wire.toString('hex')).toBe(FIXTURE.request);
    expect(mac.toString('hex')).toBe(FIXTURE.requestMac);
    expect(decodeMessage(wire).additionals).toHaveLength(1);
  });

  it("verifies named's signed answer", () => {
    const v = verifyResponse(response, decodeMessage(response), key, requestMac, FIXTURE.now + 10);
    expect(v).toMatchObject({ status: 'verified', tsig: { keyName: 'fixture-key', algorithm: 'hmac-sha256', fudge: 300, originalId: 0x1234, error: 0 } });
  });

  it('rejects the answer under another secret, another request MAC, a changed byte, or beyond the fudge', () => {
    const other = { ...key, secret: Buffer.alloc(32, 7) };
    expect(verifyResponse(response, decodeMessage(response), other, requestMac, FIXTURE.now)).toEqual({ status: 'invalid', reason: 'MAC does not verify' });
    expect(verifyResponse(response, decodeMessage(response), key, Buffer.alloc(32), FIXTURE.now).status).toBe('invalid');
    const forged = Buffer.from(response);
    forged[forged.indexOf(Buffer.from([10, 0, 0, 1]))] = 192; // the A record: 10.0.0.1 → 192.0.0.1
    expect(Array.from(decodeMessage(forged).answers[0].data)).toEqual([192, 0, 0, 1]);
    expect(verifyResponse(forged, decodeMessage(forged), key, requestMac, FIXTURE.now).status).toBe('invalid');
    expect(verifyResponse(response, decodeMessage(response), key, requestMac, FIXTURE.now + 301)).toMatchObject({ status: 'invalid', reason: expect.stringMatching(/fudge/) });
    expect(verifyResponse(response, decodeMessage(response), { ...key, name: 'other' }, requestMac, FIXTURE.now)).toMatchObject({ status: 'invalid', reason: expect.stringMatching(/key fixture-key/) });
  });

  it('reports an unsigned answer and a server TSIG error (which carries no MAC)', () => {
    const plain = encodeMessage(message({ id: 1, flags: { qr: true, rcode: 5 } }));
    expect(verifyResponse(plain, decodeMessage(plain), key, requestMac, FIXTURE.now)).toEqual({ status: 'unsigned' });
    // NOTAUTH with TSIG error BADSIG, as named answers a wrong secret.
    const rdata = Buffer.concat([Buffer.from('0b686d61632d73686132353600', 'hex'), Buffer.from('00006b0c2993012c', 'hex'), Buffer.from([0, 0]), Buffer.from([0, 1, 0, 16, 0, 0])]);
    const head = encodeMessage(message({ id: 1, flags: { qr: true, rcode: 9 } }));
    head.writeUInt16BE(1, 10);
    const bad = Buffer.concat([head, encodeRecord({ name: 'fixture-key', type: RRTYPE.TSIG, class: RRCLASS.ANY, ttl: 0, data: rdata })]);
    expect(verifyResponse(bad, decodeMessage(bad), key, requestMac, FIXTURE.now)).toMatchObject({ status: 'server-error', error: 'BADSIG' });
    expect(parseTsigData('fixture-key', rdata)).toMatchObject({ algorithm: 'hmac-sha256', mac: Buffer.alloc(0), error: 16 });
  });

  it('a TSIG record that is not the last record is invalid', () => {
    const signed = Buffer.from(FIXTURE.request, 'hex');
    const extra = encodeRecord({ name: 'x', type: RRTYPE.A, class: RRCLASS.IN, ttl: 0, data: Uint8Array.from([1, 2, 3, 4]) });
    const both = Buffer.concat([signed, extra]);
    both.writeUInt16BE(2, 10);
    expect(verifyResponse(both, decodeMessage(both), key, requestMac, FIXTURE.now)).toMatchObject({ status: 'invalid' });
  });

  it("reads and writes BIND's key text", () => {
    const text = `key "umbra-key" {\n\talgorithm hmac-sha256;\n\tsecret "${FIXTURE.secret}";\n};\n`;
    const k = parseBindKey(text);
    expect(k).toEqual({ name: 'umbra-key', algorithm: 'hmac-sha256', secret: key.secret });
    expect(renderBindKey(k)).toBe(text);
    expect(() => parseBindKey('key "k" { algorithm hmac-md5; secret "AAAA"; };')).toThrow(/unsupported/);
    expect(() => parseBindKey('key "k" { algorithm hmac-sha256; };')).toThrow(/secret/);
    expect(() => parseBindKey('nothing')).toThrow(/no key/);
  });
});
