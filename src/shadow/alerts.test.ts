/**
 * Alerts: raise/resolve in the store, their Alertmanager and webhook shapes, and delivery to
 * real HTTP receivers on loopback (a webhook and an Alertmanager stand-in that records
 * `POST /api/v2/alerts`).
 */
import http from 'node:http';
import type net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { openSqliteStore } from '../store/index.js';
import type { Store } from '../store/store.js';
import { AlertSender, raiseAlert, resolveAlert, toAlertmanagerAlert, toWebhookPayload } from './alerts.js';

const T0 = 1_800_000_000_000;
const quiet = { info: () => undefined, warn: () => undefined };

interface Receiver {
  url: string;
  posts: { path: string; body: unknown }[];
  status: number;
  close(): Promise<void>;
}

async function receiver(): Promise<Receiver> {
  const r: Receiver = { url: '', posts: [], status: 200, close: async () => undefined };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      r.posts.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      res.writeHead(r.status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  r.close = () => new Promise((resolve) => server.close(() => resolve()));
  return r;
}

describe('alerts', () => {
  let store: Store;
  let clock: ManualClock;
  beforeEach(() => {
    clock = new ManualClock(T0);
    store = openSqliteStore({ path: ':memory:', now: T0 });
  });
  afterEach(async () => store.close());

  const lag = { key: 'lag_slo/vm1', kind: 'lag_slo', severity: 'warning' as const, vmId: 'vm1', shadowId: 'vm1-s1', summary: 'replication lag of vm1 above its SLO' };

  it('one record per key: raising again changes nothing, resolving ends it, raising after fires anew', async () => {
    expect(await store.transaction((tx) => raiseAlert(tx, T0, lag))).toBe(true);
    expect(await store.transaction((tx) => raiseAlert(tx, T0 + 1000, lag))).toBe(false);
    expect(await store.transaction((tx) => resolveAlert(tx, T0 + 2000, lag.key))).toBe(true);
    expect(await store.transaction((tx) => resolveAlert(tx, T0 + 3000, lag.key))).toBe(false);
    const resolved = await store.read((r) => r.getAlert(lag.key));
    expect(resolved).toMatchObject({ state: 'resolved', startsAt: T0, endsAt: T0 + 2000 });
    await store.transaction((tx) => raiseAlert(tx, T0 + 5000, lag));
    expect(await store.read((r) => r.getAlert(lag.key))).toMatchObject({ state: 'firing', startsAt: T0 + 5000, endsAt: null });
    const kinds = (await store.read((r) => r.listEvents())).map((e) => e.kind);
    expect(kinds).toEqual(['alert.firing', 'alert.resolved', 'alert.firing']);
  });

  it('speaks Alertmanager: labels, annotations, RFC 3339 times', async () => {
    await store.transaction((tx) => raiseAlert(tx, T0, { ...lag, data: { lagSeconds: 42 } }));
    const a = (await store.read((r) => r.getAlert(lag.key)))!;
    expect(toAlertmanagerAlert(a, 'http://umbra:7000')).toEqual({
      labels: { alertname: 'umbra_lag_slo', severity: 'warning', vm: 'vm1', shadow: 'vm1-s1', umbra_key: 'lag_slo/vm1' },
      annotations: { summary: lag.summary, details: '{"lagSeconds":42}' },
      startsAt: new Date(T0).toISOString(),
      generatorURL: 'http://umbra:7000',
    });
    const w = toWebhookPayload([a]);
    expect(w).toMatchObject({ version: '4', status: 'firing', receiver: 'umbra' });
    expect(w.alerts[0]).toMatchObject({ status: 'firing', endsAt: '0001-01-01T00:00:00Z', fingerprint: 'lag_slo/vm1' });
  });

  it('delivers changes to a webhook and to Alertmanager, retries after a failure, re-sends firing alerts to Alertmanager', async () => {
    const hook = await receiver();
    const am = await receiver();
    try {
      const sender = new AlertSender({ store, clock, log: quiet, webhookUrl: `${hook.url}/hook`, alertmanagerUrl: am.url, resendMs: 60_000 });
      await sender.pass();
      expect(hook.posts).toEqual([]); // nothing to say yet
      await store.transaction((tx) => raiseAlert(tx, T0, lag));
      await sender.pass();
      expect(hook.posts).toHaveLength(1);
      expect(hook.posts[0].path).toBe('/hook');
      expect((hook.posts[0].body as { alerts: { status: string }[] }).alerts.map((a) => a.status)).toEqual(['firing']);
      expect(am.posts).toHaveLength(1);
      expect(am.posts[0].path).toBe('/api/v2/alerts');
      expect((am.posts[0].body as { labels: { alertname: string } }[])[0].labels.alertname).toBe('umbra_lag_slo');

      await sender.pass(); // nothing changed, resend not due
      expect(hook.posts).toHaveLength(1);
      expect(am.posts).toHaveLength(1);

      hook.status = 503; // the webhook fails: the change is tried again next pass
      clock.advance(1000);
      await store.transaction((tx) => resolveAlert(tx, clock.now(), lag.key));
      await sender.pass();
      expect(sender.failures).toBe(1);
      hook.status = 200;
      await sender.pass();
      const last = hook.posts.at(-1)!.body as { status: string; alerts: { status: string; endsAt: string }[] };
      expect(last.status).toBe('resolved');
      expect(last.alerts[0].endsAt).toBe(new Date(T0 + 1000).toISOString());
      expect((am.posts.at(-1)!.body as { endsAt?: string }[])[0].endsAt).toBe(new Date(T0 + 1000).toISOString());

      await store.transaction((tx) => raiseAlert(tx, clock.now(), { ...lag, key: 'corruption/vm1', kind: 'corruption', severity: 'critical', summary: 'differs' }));
      await sender.pass();
      const before = am.posts.length;
      clock.advance(61_000);
      await sender.pass(); // resend of the firing one only
      expect(am.posts.length).toBe(before + 1);
      expect((am.posts.at(-1)!.body as { labels: { umbra_key: string } }[]).map((a) => a.labels.umbra_key)).toEqual(['corruption/vm1']);
    } finally {
      await hook.close();
      await am.close();
    }
  });
});
