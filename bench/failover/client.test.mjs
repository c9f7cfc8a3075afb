// Unit tests of the failover benchmark's client, against a local HTTP server. Run: node --test bench/failover/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { countFailures, startAppender } from './client.mjs';

/**
 * A stand-in for the guest: POST /append stores the line and answers 200, unless `mode` says
 * 500 or `hang` (never answers).
 */
async function standIn() {
  const lines = [];
  const state = { mode: 'ok' };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (state.mode === 'hang') return;
      if (state.mode === '500') return void res.writeHead(500).end('no');
      lines.push(body);
      res.writeHead(200, { 'content-type': 'application/json' }).end(`{"seq":${lines.length}}`);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return { url: `http://127.0.0.1:${port}`, lines, state, close: () => (server.closeAllConnections(), new Promise((r) => server.close(r))) };
}

test('acknowledged records are unique, in the log, and timed', async () => {
  const s = await standIn();
  try {
    const c = startAppender(s.url, { tag: 't', periodMs: 5, maxInFlight: 2 });
    await sleep(200);
    await c.stop();
    assert.ok(c.acks.length >= 5, `only ${c.acks.length} acks`);
    assert.equal(new Set(c.acks.map((a) => a.line)).size, c.acks.length);
    for (const a of c.acks) {
      assert.ok(s.lines.includes(a.line));
      assert.ok(a.at >= a.sentAt);
      assert.match(a.line, /^t-\d+$/);
    }
    assert.equal(c.failures.length, 0);
    assert.equal(c.sent(), c.acks.length);
  } finally {
    await s.close();
  }
});

test('a hung server does not stop the client: requests fail or time out, the others go on once it answers', async () => {
  const s = await standIn();
  try {
    const c = startAppender(s.url, { tag: 'h', periodMs: 5, maxInFlight: 3, timeoutMs: 150 });
    await sleep(60);
    s.state.mode = 'hang';
    await sleep(100);
    const hungAt = performance.timeOrigin + performance.now();
    await sleep(200);
    s.state.mode = '500';
    await sleep(80);
    s.state.mode = 'ok';
    await sleep(120);
    await c.stop();
    const f = countFailures(c.failures);
    assert.ok((f.TimeoutError ?? 0) >= 1, JSON.stringify(f));
    assert.ok((f['HTTP 500'] ?? 0) >= 1, JSON.stringify(f));
    assert.ok(c.acks.some((a) => a.at > hungAt + 200), 'acknowledged again after the hang');
  } finally {
    await s.close();
  }
});

test('countFailures groups by kind', () => {
  assert.deepEqual(countFailures([{ sentAt: 0, at: 1, what: 'HTTP 503' }, { sentAt: 0, at: 1, what: 'HTTP 503' }, { sentAt: 0, at: 1, what: 'ECONNRESET' }]), { 'HTTP 503': 2, ECONNRESET: 1 });
});

test('a url function is read as each request starts: the client moves', async () => {
  const a = await standIn();
  const b = await standIn();
  try {
    let target = a.url;
    const c = startAppender(() => target, { tag: 'm', periodMs: 5, maxInFlight: 2 });
    await sleep(100);
    target = b.url;
    await sleep(100);
    await c.stop();
    assert.ok(a.lines.length > 0 && b.lines.length > 0, `a ${a.lines.length}, b ${b.lines.length}`);
    assert.equal(a.lines.length + b.lines.length, c.acks.length);
  } finally {
    await a.close();
    await b.close();
  }
});
