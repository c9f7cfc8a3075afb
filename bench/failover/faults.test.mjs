// Unit tests of the failover benchmark's faults, on a child process and a local HTTP stand-in. Run: node --test bench/failover/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { FAULT_KINDS, TARGETS, inject, parseFaults, pidAlive, undo } from './faults.mjs';

/** The state letter of /proc/PID/stat (R, S, T, Z, ...). */
const procState = (/** @type {number} */ pid) => readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '')[0];

test('parseFaults keeps the order and rejects unknown or repeated names', () => {
  assert.deepEqual(parseFaults('hang, kill'), ['hang', 'kill']);
  assert.throws(() => parseFaults('kill,oom'), /unknown fault "oom"/);
  assert.throws(() => parseFaults('kill,kill'), /twice/);
  assert.throws(() => parseFaults(' , '), /at least one/);
  for (const k of FAULT_KINDS) assert.ok(TARGETS[k].text);
});

test('hang stops the process (SIGSTOP) and undo continues it; kill ends it', async () => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  const pid = /** @type {number} */ (child.pid);
  const exited = new Promise((r) => child.once('exit', (_code, sig) => r(sig)));
  try {
    const api = async () => assert.fail('no API call expected');
    const h = await inject('hang', { pid, endpoint: 'http://127.0.0.1:1' }, { vmId: 'vm1', api });
    assert.match(h.detail, /^SIGSTOP \d+$/);
    await sleep(50);
    assert.equal(procState(pid), 'T');
    assert.equal(await undo('hang', { pid, endpoint: '' }), `SIGCONT ${pid}`);
    await sleep(50);
    assert.notEqual(procState(pid), 'T');
    const k = await inject('kill', { pid, endpoint: '' }, { vmId: 'vm1', api });
    assert.ok(k.at > 0);
    assert.equal(await exited, 'SIGKILL');
    assert.equal(pidAlive(pid), false);
    assert.equal(await undo('kill', { pid, endpoint: '' }), null);
  } finally {
    child.kill('SIGKILL');
  }
});

test('5xx and panic are POSTs to the guest, planned a POST to the server; undo of 5xx clears it', async () => {
  const seen = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(req.url === '/fault?mode=bad' ? 400 : 200).end('{}');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}`;
  try {
    const calls = [];
    const api = async (/** @type {string} */ method, /** @type {string} */ path, /** @type {unknown} */ body) => (calls.push({ method, path, body }), { decision: { kind: 'failover' } });
    assert.equal((await inject('5xx', { pid: 1, endpoint }, { vmId: 'vm1', api })).detail, 'POST /fault?mode=5xx → 200');
    assert.match((await inject('panic', { pid: 1, endpoint }, { vmId: 'vm1', api })).detail, /→ 200/);
    assert.equal(await undo('5xx', { pid: 1, endpoint }), 'POST /fault?mode=none → 200');
    assert.deepEqual(seen, ['POST /fault?mode=5xx', 'POST /fault?mode=panic', 'POST /fault?mode=none']);
    const p = await inject('planned', { pid: 1, endpoint }, { vmId: 'vm1', api });
    assert.deepEqual(await p.pending, { decision: { kind: 'failover' } });
    assert.deepEqual(calls, [{ method: 'POST', path: '/v1/vms/vm1/failover', body: {} }]);
    // A guest that cannot be reached: panic counts as injected (the answer may die with it), undo says so.
    assert.match((await inject('panic', { pid: 1, endpoint: 'http://127.0.0.1:1' }, { vmId: 'vm1', api })).detail, /no answer/);
    assert.match(/** @type {string} */ (await undo('5xx', { pid: 1, endpoint: 'http://127.0.0.1:1' })), /no answer/);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
