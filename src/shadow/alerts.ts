/**
 * Alerts of the shadow manager (issue 4 §7): raised and resolved inside store transactions (one
 * record per key, so a condition that holds for an hour is one alert, not 720), and delivered by
 * {@link AlertSender} to a webhook (Alertmanager's webhook JSON) and to Alertmanager's API
 * (`POST /api/v2/alerts`). The formatting functions are pure.
 */
import type { Clock } from '../core/clock.js';
import { credentialsAsHeader, redactUrl } from '../core/redact.js';
import type { AlertRow, Store, StoreTx } from '../store/store.js';

/** What raising an alert needs. */
export interface AlertInput {
  key: string;
  kind: string;
  severity: AlertRow['severity'];
  vmId: string | null;
  shadowId: string | null;
  summary: string;
  data?: Record<string, unknown>;
}

/**
 * Raises (or keeps) a firing alert. A resolved alert with the same key fires again with a new
 * `startsAt`; a firing one keeps its `startsAt` and only changes when the summary does.
 * Returns true when something changed (to be delivered).
 */
export function raiseAlert(tx: StoreTx, now: number, a: AlertInput): boolean {
  const prev = tx.getAlert(a.key);
  if (prev && prev.state === 'firing' && prev.summary === a.summary) return false;
  const firingAgain = !prev || prev.state === 'resolved';
  tx.putAlert({
    key: a.key,
    kind: a.kind,
    severity: a.severity,
    vmId: a.vmId,
    shadowId: a.shadowId,
    state: 'firing',
    startsAt: firingAgain ? now : prev.startsAt,
    endsAt: null,
    summary: a.summary,
    data: a.data ?? {},
    updatedAt: now,
  });
  tx.appendEvent({ t: now, kind: firingAgain ? 'alert.firing' : 'alert.changed', vmId: a.vmId, data: { key: a.key, alertKind: a.kind, severity: a.severity, summary: a.summary, shadowId: a.shadowId } });
  return true;
}

/** Resolves a firing alert; true when it was firing. */
export function resolveAlert(tx: StoreTx, now: number, key: string, why = 'condition cleared'): boolean {
  const prev = tx.getAlert(key);
  if (!prev || prev.state === 'resolved') return false;
  tx.putAlert({ ...prev, data: { ...prev.data }, state: 'resolved', endsAt: now, updatedAt: now });
  tx.appendEvent({ t: now, kind: 'alert.resolved', vmId: prev.vmId, data: { key, alertKind: prev.kind, why } });
  return true;
}

/** The labels an alert is identified by downstream. */
export function alertLabels(a: AlertRow): Record<string, string> {
  return {
    alertname: `umbra_${a.kind}`,
    severity: a.severity,
    ...(a.vmId ? { vm: a.vmId } : {}),
    ...(a.shadowId ? { shadow: a.shadowId } : {}),
    umbra_key: a.key,
  };
}

const ZERO_TIME = '0001-01-01T00:00:00Z';
const iso = (ms: number) => new Date(ms).toISOString();

/** One alert in Alertmanager's API shape (`POST /api/v2/alerts` takes an array of these). */
export function toAlertmanagerAlert(a: AlertRow, generatorURL?: string) {
  return {
    labels: alertLabels(a),
    annotations: { summary: a.summary, ...(Object.keys(a.data).length ? { details: JSON.stringify(a.data) } : {}) },
    startsAt: iso(a.startsAt),
    ...(a.endsAt !== null ? { endsAt: iso(a.endsAt) } : {}),
    ...(generatorURL ? { generatorURL } : {}),
  };
}

/** A batch in Alertmanager's webhook format (what Alertmanager itself posts to receivers). */
export function toWebhookPayload(alerts: readonly AlertRow[], externalURL = '') {
  const firing = alerts.some((a) => a.state === 'firing');
  return {
    version: '4',
    receiver: 'umbra',
    status: firing ? 'firing' : 'resolved',
    groupKey: 'umbra',
    externalURL,
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    alerts: alerts.map((a) => ({
      status: a.state,
      labels: alertLabels(a),
      annotations: { summary: a.summary },
      startsAt: iso(a.startsAt),
      endsAt: a.endsAt !== null ? iso(a.endsAt) : ZERO_TIME,
      fingerprint: a.key,
      data: a.data,
    })),
  };
}

/** Logging the sender does (pino satisfies it). */
export interface AlertSenderLogger {
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
}

/** Options of {@link AlertSender}. */
export interface AlertSenderOptions {
  store: Store;
  clock: Clock;
  log: AlertSenderLogger;
  webhookUrl?: string;
  alertmanagerUrl?: string;
  /** Firing alerts are re-sent to Alertmanager this often (ms, default 60 000). */
  resendMs?: number;
  /** The server's URL (generatorURL). */
  serverUrl?: () => string;
  /** HTTP request timeout, ms (default 5000). */
  timeoutMs?: number;
}

/**
 * Delivers alert changes. Each pass sends every alert whose `updatedAt` is newer than what was
 * delivered to that sink (after a failure it is tried again next pass), and re-sends firing
 * alerts to Alertmanager every `resendMs` (Alertmanager resolves alerts it stops hearing about).
 */
export class AlertSender {
  private readonly delivered = { webhook: new Map<string, number>(), alertmanager: new Map<string, number>() };
  private lastResend = -Infinity;
  /** Deliveries that failed (for /metrics and tests). */
  failures = 0;
  sent = 0;

  constructor(private readonly o: AlertSenderOptions) {}

  /** True when a destination is configured. */
  get enabled(): boolean {
    return Boolean(this.o.webhookUrl || this.o.alertmanagerUrl);
  }

  /** One delivery pass. */
  async pass(): Promise<void> {
    if (!this.enabled) return;
    const all = await this.o.store.read((r) => r.listAlerts({ all: true, limit: 10_000 }));
    const now = this.o.clock.now();
    if (this.o.webhookUrl) {
      const due = all.filter((a) => (this.delivered.webhook.get(a.key) ?? -1) < a.updatedAt);
      if (due.length && (await this.post(this.o.webhookUrl, toWebhookPayload(due, this.o.serverUrl?.() ?? ''), 'webhook'))) {
        for (const a of due) this.delivered.webhook.set(a.key, a.updatedAt);
      }
    }
    if (this.o.alertmanagerUrl) {
      const resend = now - this.lastResend >= (this.o.resendMs ?? 60_000);
      const due = all.filter((a) => (this.delivered.alertmanager.get(a.key) ?? -1) < a.updatedAt || (resend && a.state === 'firing'));
      const url = this.o.alertmanagerUrl.replace(/\/+$/, '') + '/api/v2/alerts';
      if (due.length && (await this.post(url, due.map((a) => toAlertmanagerAlert(a, this.o.serverUrl?.())), 'alertmanager'))) {
        for (const a of due) this.delivered.alertmanager.set(a.key, a.updatedAt);
        if (resend) this.lastResend = now;
      }
    }
  }

  private async post(url: string, body: unknown, sink: string): Promise<boolean> {
    try {
      const target = credentialsAsHeader(url);
      const res = await fetch(target.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...target.headers },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 5000),
      });
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      this.sent++;
      return true;
    } catch (e) {
      this.failures++;
      this.o.log.warn({ sink, url: redactUrl(url), err: e instanceof Error ? e.message : String(e) }, 'alert delivery failed (will retry)');
      return false;
    }
  }
}
