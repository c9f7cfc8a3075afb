// Unit tests of the failover benchmark's reading of the lab state file. Run: node --test bench/failover/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostLink } from './lab.mjs';

test('hostLink: a host\'s root-side veth from STATE_DIR/lab/state.json', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ubl-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'lab'));
  const hosts = [
    { name: 'h1', netns: 'umbra-h1', address: '10.213.0.11', vethRoot: 'umbra-h1-br', vethNs: 'umbra-h1-ns' },
    { name: 'h2', netns: 'umbra-h2', address: '10.213.0.12', vethRoot: 'umbra-h2-br', vethNs: 'umbra-h2-ns' },
    { name: 'h3', vethRoot: 'x; rm -rf /' },
  ];
  writeFileSync(join(dir, 'lab', 'state.json'), JSON.stringify({ version: 1, hosts }));
  assert.equal(hostLink(dir, 'h2'), 'umbra-h2-br');
  assert.throws(() => hostLink(dir, 'h9'), /no host h9 with a vethRoot \(hosts: h1, h2, h3\)/);
  assert.throws(() => hostLink(dir, 'h3'), /unexpected vethRoot/);
  assert.throws(() => hostLink(join(dir, 'none'), 'h1'), /ENOENT/);
});
