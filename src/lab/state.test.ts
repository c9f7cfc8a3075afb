import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LAB_NETWORK } from './layout.js';
import { labPaths, readLabState, removeLabFiles, writeLabState, type LabState } from './state.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fresh(): string {
  const d = mkdtempSync(join(tmpdir(), 'ulab-state-'));
  dirs.push(d);
  return d;
}

function state(stateDir: string): LabState {
  return {
    version: 1,
    phase: 'starting',
    createdAt: 1_700_000_000_000,
    stateDir,
    labDir: labPaths(stateDir).labDir,
    network: LAB_NETWORK,
    hosts: [],
    token: 'tok',
    server: null,
    vms: [],
    image: null,
  };
}

describe('lab state files', () => {
  it('round-trips the state; lab.json appears only once the server URL is known', () => {
    const dir = fresh();
    const p = labPaths(dir);
    expect(readLabState(dir)).toBeNull();
    const s = state(dir);
    writeLabState(s);
    expect(readLabState(dir)).toEqual(s);
    expect(existsSync(p.labJson)).toBe(false);
    s.server = { pid: 42, argv: ['node'], out: 'o', log: 'l', url: '', dataDir: 'd' };
    writeLabState(s);
    expect(existsSync(p.labJson)).toBe(false);
    s.server.url = 'http://10.213.0.1:7000';
    writeLabState(s);
    expect(JSON.parse(readFileSync(p.labJson, 'utf8'))).toEqual({ server: 'http://10.213.0.1:7000', token: 'tok' });
    expect(statSync(p.stateFile).mode & 0o777).toBe(0o600); // it holds the token
  });

  it('reports an unreadable state file as a state error naming the file', () => {
    const dir = fresh();
    writeLabState(state(dir));
    writeFileSync(labPaths(dir).stateFile, '{oops');
    expect(() => readLabState(dir)).toThrow(/cannot read the lab state .*state\.json/);
  });

  it('removes only the lab files, and the state dir only when nothing else is in it', () => {
    const dir = fresh();
    writeLabState({ ...state(dir), server: { pid: 1, argv: [], out: '', log: '', url: 'http://x', dataDir: '' } });
    writeFileSync(join(dir, 'other.txt'), 'keep');
    removeLabFiles(dir);
    expect(existsSync(labPaths(dir).labDir)).toBe(false);
    expect(existsSync(labPaths(dir).labJson)).toBe(false);
    expect(readFileSync(join(dir, 'other.txt'), 'utf8')).toBe('keep');
    rmSync(join(dir, 'other.txt'));
    writeLabState(state(dir));
    removeLabFiles(dir);
    expect(existsSync(dir)).toBe(false);
    removeLabFiles(dir); // twice is fine
  });
});
