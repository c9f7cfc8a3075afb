import { describe, expect, it } from 'vitest';
import { initLstmBackend, loadTf, runExclusive } from './lstm-backend.js';

// Vitest runs each test file in its own process, so this file's tfjs engine is fresh: the wasm
// binary has not been loaded yet and pointing the loader at a missing folder makes it fail.
describe('initLstmBackend', () => {
  it('falls back to cpu with a logged reason when wasm cannot load', async () => {
    await loadTf();
    const { setWasmPaths } = await import('@tensorflow/tfjs-backend-wasm');
    setWasmPaths('/nonexistent-umbra-wasm-dir/');
    const warnings: Array<{ fields: Record<string, unknown>; msg: string }> = [];
    const info = await initLstmBackend({ log: { warn: (fields, msg) => warnings.push({ fields, msg }) } });
    expect(info.backend).toBe('cpu');
    expect(info.requested).toBe('wasm');
    expect(info.fallbackReason).toBeTruthy();
    expect(warnings).toHaveLength(1);
    expect(warnings[0].fields).toMatchObject({ requested: 'wasm', backend: 'cpu' });
    expect((await loadTf()).getBackend()).toBe('cpu');
    // Memoised: a second call reports the same outcome without logging again.
    expect(await initLstmBackend({ log: { warn: (fields, msg) => warnings.push({ fields, msg }) } })).toEqual(info);
    expect(warnings).toHaveLength(1);
  });
});

describe('runExclusive', () => {
  it('runs jobs one at a time in call order, even after a failure', async () => {
    const events: string[] = [];
    const job = (name: string, fail = false) => async () => {
      events.push(`${name}:start`);
      await new Promise((r) => setImmediate(r));
      events.push(`${name}:end`);
      if (fail) throw new Error(name);
      return name;
    };
    const results = await Promise.allSettled([runExclusive(job('a')), runExclusive(job('b', true)), runExclusive(job('c'))]);
    expect(events).toEqual(['a:start', 'a:end', 'b:start', 'b:end', 'c:start', 'c:end']);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });
});
