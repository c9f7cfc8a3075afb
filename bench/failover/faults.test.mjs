// Unit tests of the failover benchmark's faults, on a child process, a local HTTP stand-in and a
// fake `ip` (no real link is touched). Run: node --test bench/failover/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { FAULT_KINDS, LOAD_OFF, LOAD_ON, afterFailover, inject, ipRunner, oldQemuGraceMs, parseFaults, pidAlive, restoreLinks, undo } from './faults.mjs';

/** The state letter of /proc/PID/stat (R, S, T, Z, ...). */
const procState = (/** @type {number} */ pid) => readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '')[0];

/**
 * A fake `ip`: records each argument vector; `fail` makes the next calls exit 1.
 */
function fakeIp() {
  const calls = /** @type {string[][]} */ ([]);
  const state = { fail: false };
  /** @type {import('./faults.mjs').IpRunner} */
  const run = (args) => {
    calls.push(args);
    return state.fail ? { code: 1, out: '', err: 'Cannot find device\n' } : { code: 0, out: '', err: '' };
  };
  return { run, calls, state };
}

/**
 * A fault context with a fake `ip`, links of hosts h1/h2, and `traffic` (the API fails the test).
 * @param {string} traffic
 * @param {ReturnType<typeof fakeIp>} [ip]
 * @returns {import('./faults.mjs').FaultContext}
 */
function ctxOf(traffic, ip = fakeIp()) {
  return {
    vmId: 'vm1',
    api: async () => assert.fail('no API call expected'),
    traffic,
    ip: ip.run,
    linkOf: (host) => ({ h1: 'umbra-h1-br', h2: 'umbra-h2-br' })[/** @type {'h1'} */ (host)] ?? assert.fail(`no host ${host}`),
    linksDown: new Set(),
  };
}

/**
 * An HTTP stand-in for the guest (or HAProxy): records `METHOD URL`; answers 400 to `/fault?mode=bad`.
 */
async function standIn() {
  const seen = /** @type {string[]} */ ([]);
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(req.url === '/fault?mode=bad' ? 400 : 200).end(req.url?.startsWith('/load') ? '{"cpu":100,"seconds":600,"workers":1}' : '{}');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', () => r(undefined)));
  const url = `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}`;
  return {
    url,
    seen,
    close: () => (server.closeAllConnections(), new Promise((r) => server.close(() => r(undefined)))),
  };
}

test('parseFaults keeps the order and rejects unknown or repeated names, naming the option', () => {
  assert.deepEqual(parseFaults('hang, kill'), ['hang', 'kill']);
  assert.deepEqual(parseFaults('cpu,lost-host'), ['cpu', 'lost-host']);
  assert.throws(() => parseFaults('kill,oom'), /--faults: unknown fault "oom"/);
  assert.throws(() => parseFaults('kill,kill'), /twice/);
  assert.throws(() => parseFaults(' , ', '--faults-migrate'), /--faults-migrate: name at least one/);
  assert.deepEqual(parseFaults(FAULT_KINDS.join(',')), [...FAULT_KINDS]);
});

test('the old QEMU may take up to 60 s to go after a lost host (the orphan sweep), 3 s otherwise', () => {
  assert.equal(oldQemuGraceMs('lost-host'), 60_000);
  for (const k of FAULT_KINDS) if (k !== 'lost-host') assert.equal(oldQemuGraceMs(k), 3000);
});

test('hang stops the process (SIGSTOP) and undo continues it; kill ends it', async () => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  const pid = /** @type {number} */ (child.pid);
  const exited = new Promise((r) => child.once('exit', (_code, sig) => r(sig)));
  const ctx = ctxOf('http://127.0.0.1:1');
  try {
    const h = await inject('hang', { pid, endpoint: 'http://127.0.0.1:1', host: 'h1' }, ctx);
    assert.match(h.detail, /^SIGSTOP \d+$/);
    await sleep(50);
    assert.equal(procState(pid), 'T');
    assert.equal(await undo('hang', { pid, endpoint: '', host: 'h1' }, ctx), `SIGCONT ${pid}`);
    await sleep(50);
    assert.notEqual(procState(pid), 'T');
    const k = await inject('kill', { pid, endpoint: '', host: 'h1' }, ctx);
    assert.ok(k.at > 0);
    assert.equal(await exited, 'SIGKILL');
    assert.equal(pidAlive(pid), false);
    assert.equal(await undo('kill', { pid, endpoint: '', host: 'h1' }, ctx), null);
    assert.equal(await afterFailover('kill', { done: true, path: 'warm' }, ctx), null);
  } finally {
    child.kill('SIGKILL');
  }
});

test('5xx and panic are POSTs to the guest, planned a POST to the server; undo of 5xx clears it', async () => {
  const g = await standIn();
  const endpoint = g.url;
  try {
    const calls = /** @type {unknown[]} */ ([]);
    const ctx = { ...ctxOf('http://127.0.0.1:1'), api: async (/** @type {string} */ method, /** @type {string} */ path, /** @type {unknown} */ body) => (calls.push({ method, path, body }), { decision: { kind: 'failover' } }) };
    const p1 = { pid: 1, endpoint, host: 'h1' };
    assert.equal((await inject('5xx', p1, /** @type {any} */ (ctx))).detail, 'POST /fault?mode=5xx → 200');
    assert.match((await inject('panic', p1, /** @type {any} */ (ctx))).detail, /→ 200/);
    assert.equal(await undo('5xx', p1, /** @type {any} */ (ctx)), 'POST /fault?mode=none → 200');
    assert.deepEqual(g.seen, ['POST /fault?mode=5xx', 'POST /fault?mode=panic', 'POST /fault?mode=none']);
    const p = await inject('planned', p1, /** @type {any} */ (ctx));
    assert.deepEqual(await p.pending, { decision: { kind: 'failover' } });
    assert.deepEqual(calls, [{ method: 'POST', path: '/v1/vms/vm1/failover', body: {} }]);
    // A guest that cannot be reached: panic counts as injected (the answer may die with it), undo says so.
    const gone = { pid: 1, endpoint: 'http://127.0.0.1:1', host: 'h1' };
    assert.match((await inject('panic', gone, /** @type {any} */ (ctx))).detail, /no answer/);
    assert.match(/** @type {string} */ (await undo('5xx', gone, /** @type {any} */ (ctx))), /no answer/);
  } finally {
    await g.close();
  }
});

test('cpu: the load is started on the guest and stopped there when it did not fail over', async () => {
  const guest = await standIn();
  const haproxy = await standIn();
  try {
    const ctx = ctxOf(haproxy.url);
    const primary = { pid: 1, endpoint: guest.url, host: 'h1' };
    const i = await inject('cpu', primary, ctx);
    assert.match(i.detail, /^GET \/load\?cpu=100&seconds=600 → 200/);
    assert.match(/** @type {string} */ (await undo('cpu', primary, ctx)), /\/load\?cpu=0&seconds=1 → 200$/);
    assert.deepEqual(guest.seen, [`GET ${LOAD_ON}`, `GET ${LOAD_OFF}`]);
    assert.deepEqual(haproxy.seen, []);
    // The guest's own address gone: the traffic URL stops whichever instance serves the VM.
    const t = /** @type {string} */ (await undo('cpu', { ...primary, endpoint: 'http://127.0.0.1:1' }, ctx));
    assert.match(t, /no answer.*; GET http:\/\/127\.0\.0\.1:\d+\/load\?cpu=0&seconds=1 → 200$/);
    assert.deepEqual(haproxy.seen, [`GET ${LOAD_OFF}`]);
    // A guest that refuses the load: the fault is not injected.
    await assert.rejects(inject('cpu', { ...primary, endpoint: 'http://127.0.0.1:1' }, ctx));
  } finally {
    await guest.close();
    await haproxy.close();
  }
});

test('cpu: after a live migration the load moved with the RAM and is stopped through the traffic URL', async () => {
  const haproxy = await standIn();
  try {
    const ctx = ctxOf(haproxy.url);
    assert.match(/** @type {string} */ (await afterFailover('cpu', { done: true, path: 'migrate' }, ctx)), /^the load moved with the RAM: GET .*\/load\?cpu=0&seconds=1 → 200$/);
    assert.match(/** @type {string} */ (await afterFailover('cpu', { done: true, path: 'warm' }, ctx)), /never had the load/);
    assert.equal(await afterFailover('cpu', { done: false, path: null }, ctx), null); // undo stops it on the primary
    assert.deepEqual(haproxy.seen, [`GET ${LOAD_OFF}`, `GET ${LOAD_OFF}`]);
  } finally {
    await haproxy.close();
  }
});

test('lost-host sets the primary host\'s root-side veth down and always up again once the failover ended', async () => {
  const ip = fakeIp();
  const ctx = ctxOf('http://127.0.0.1:1', ip);
  const primary = { pid: 1, endpoint: 'http://127.0.0.1:1', host: 'h2' };
  const i = await inject('lost-host', primary, ctx);
  assert.equal(i.detail, 'ip link set umbra-h2-br down (host h2)');
  assert.deepEqual(ip.calls, [['link', 'set', 'umbra-h2-br', 'down']]);
  assert.deepEqual([...ctx.linksDown], ['umbra-h2-br']);
  // A failover that did not end done still sets it up.
  assert.equal(await afterFailover('lost-host', { done: false, path: null }, ctx), 'ip link set umbra-h2-br up');
  assert.deepEqual(ip.calls.at(-1), ['link', 'set', 'umbra-h2-br', 'up']);
  assert.equal(ctx.linksDown.size, 0);
  // Nothing left to set up: undo does nothing.
  assert.equal(await undo('lost-host', primary, ctx), null);
  assert.equal(ip.calls.length, 2);
  // Undo sets up what is still down.
  await inject('lost-host', primary, ctx);
  assert.equal(await undo('lost-host', primary, ctx), 'ip link set umbra-h2-br up');
  assert.equal(ctx.linksDown.size, 0);
});

test('lost-host: a link that may be half set down, or will not come up, stays recorded until it comes up', async () => {
  const ip = fakeIp();
  const ctx = ctxOf('http://127.0.0.1:1', ip);
  ip.state.fail = true;
  await assert.rejects(inject('lost-host', { pid: 1, endpoint: '', host: 'h1' }, ctx), /ip link set umbra-h1-br down exited 1: Cannot find device/);
  assert.deepEqual(ip.calls.at(-1), ['link', 'set', 'umbra-h1-br', 'up']); // tried to undo the half-done change at once
  assert.deepEqual([...ctx.linksDown], ['umbra-h1-br']); // that failed too: the exit handler tries again
  assert.match(restoreLinks(ctx.linksDown, ip.run)[0], /^ip link set umbra-h1-br up failed \(exit 1\): Cannot find device$/);
  assert.deepEqual([...ctx.linksDown], ['umbra-h1-br']);
  ip.state.fail = false;
  assert.deepEqual(restoreLinks(ctx.linksDown, ip.run), ['ip link set umbra-h1-br up']);
  assert.deepEqual(restoreLinks(ctx.linksDown, ip.run), []);
  // A failed `down` whose undo works leaves nothing recorded.
  ip.calls.length = 0;
  let n = 0;
  const flaky = /** @type {import('./faults.mjs').IpRunner} */ ((args) => (n++ === 0 ? { code: 2, out: '', err: 'busy' } : ip.run(args)));
  await assert.rejects(inject('lost-host', { pid: 1, endpoint: '', host: 'h2' }, { ...ctx, ip: flaky }), /exited 2: busy/);
  assert.equal(ctx.linksDown.size, 0);
  assert.deepEqual(ip.calls, [['link', 'set', 'umbra-h2-br', 'up']]);
});

test('ipRunner passes the argument vector as is (a stand-in program instead of ip)', () => {
  const echo = ipRunner('echo');
  assert.deepEqual(echo(['link', 'set', 'a b;c', 'down']), { code: 0, out: 'link set a b;c down\n', err: '' });
  const missing = ipRunner('/nonexistent/ip')(['link']);
  assert.equal(missing.code, null);
  assert.match(missing.err, /ENOENT/);
});
