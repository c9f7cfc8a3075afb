// Tests of the output readers: peers' CSV and Umbra's JSON, aligned on the expected steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alignForecast, parsePeerCsv, parseUmbraJson } from './outputs.mjs';

const csv = ['"t","mean","lo80","hi80","lo95","hi95"', '600,1.5,1,2,0.5,2.5', '300,1,0,2,-1,3', ''].join('\n');

test('peer CSV rows are keyed by timestamp whatever their order', () => {
  const rows = parsePeerCsv(csv, [80, 95]);
  assert.deepEqual(rows.get(300), { mean: 1, intervals: { '80': [0, 2], '95': [-1, 3] } });
  const a = alignForecast([300, 600], rows, [80, 95]);
  assert.ok(a.ok);
  if (a.ok) {
    assert.deepEqual(Array.from(a.forecast.mean), [1, 1.5]);
    assert.deepEqual(Array.from(a.forecast.intervals['95'][1]), [3, 2.5]);
  }
});

test('alignment rejects a missing step, a missing level and crossed bounds', () => {
  const rows = parsePeerCsv(csv, [80, 95]);
  const missing = alignForecast([300, 600, 900], rows, [80, 95]);
  assert.equal(missing.ok, false);
  if (!missing.ok) assert.match(missing.reason, /step 3/);
  const noLevel = alignForecast([300], parseUmbraJson('{"forecasts":[{"series":"a","points":[{"t":300,"mean":1,"intervals":{"80":[0,2]}}]}]}').get('a')?.byTime ?? new Map(), [80, 95]);
  assert.equal(noLevel.ok, false);
  const crossed = alignForecast([300], new Map([[300, { mean: 1, intervals: { '80': [2, 0] } }]]), [80]);
  assert.equal(crossed.ok, false);
});

test('Umbra JSON: series by id with the chosen model', () => {
  const doc = {
    forecasts: [
      { series: 'vm15-o0', metric: 'value', unit: '', stepSeconds: 300, model: 'mstl', points: [{ t: 300, mean: 2, intervals: { '80': [1, 3], '95': [0, 4] } }] },
    ],
  };
  const m = parseUmbraJson(JSON.stringify(doc));
  assert.equal(m.get('vm15-o0')?.model, 'mstl');
  const a = alignForecast([300], m.get('vm15-o0')?.byTime ?? new Map(), [80, 95]);
  assert.ok(a.ok);
  assert.throws(() => parseUmbraJson('{"x":1}'), /forecasts/);
});
