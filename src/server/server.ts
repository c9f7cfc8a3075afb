/**
 * `umbra server` wired together: the store, the REST API on node:http, and the loops
 * (reconciler, profiler, store maintenance), each on the injected Clock with one AbortSignal.
 *
 * Why node:http and not fastify: about a dozen JSON routes, validation already done by the
 * protocol's zod schemas, one error mapper and pino already here; a framework would add a
 * dependency and a second validation and logging layer for nothing we use. The agent's API is
 * built the same way.
 */
import { readFileSync } from 'node:fs';
import httpServer from 'node:http';
import type net from 'node:net';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import { DEFAULT_RETENTION, type RetentionPolicy, type Store } from '../store/store.js';
import { HttpAgentApi, type AgentApi } from './agent-client.js';
import { createRequestHandler } from './api.js';
import { Loop } from './loop.js';
import { DEFAULT_PLACEMENT, type PlacementOptions } from './placement.js';
import { LOAD_METRICS, Profiler, type ProfilerSettings } from './profiler.js';
import { Reconciler, type GuestImageRef } from './reconciler.js';
import type { UmbraConfig } from '../config/schema.js';
import { AlertSender } from '../shadow/alerts.js';
import { ShadowReconciler } from '../shadow/reconciler.js';
import { HttpShadowAgentApi, type ShadowAgentApi } from './shadow-agent-client.js';
import { HttpFailoverAgentApi, type FailoverAgentApi } from '../failover/agent-api.js';
import { FailoverGate } from '../failover/gate.js';
import { FailoverController } from '../failover/controller.js';
import type { TrafficSwitch } from '../traffic/switch.js';

/** Everything the server needs; durations in ms unless named otherwise. */
export interface ServerOptions {
  store: Store;
  clock: Clock;
  /** The bearer token clients and agents present (and the server presents to agents). */
  token: string;
  /** Address to bind (default 127.0.0.1) and port (0: any free one). */
  host?: string;
  port?: number;
  log: Logger;
  /** Where VMs' guest image is. */
  image: () => Promise<GuestImageRef>;
  /** How agents are called (default: over HTTP with `token`). */
  agents?: AgentApi;
  /** Agent lease (default 15 s) and the heartbeat period told to agents (default a third of it). */
  leaseMs?: number;
  heartbeatMs?: number;
  /** Reconciler period (default 5 s). */
  reconcileMs?: number;
  /** Store maintenance period (default 10 min) and the retention it applies. */
  maintenanceMs?: number;
  retention?: RetentionPolicy;
  /** Profiler period (the policy's forecast.schedule; default 15 min). */
  profileMs?: number;
  profiler?: Partial<ProfilerSettings>;
  placement?: PlacementOptions;
  /** Largest request body (default 16 MiB). */
  maxBodyBytes?: number;
  /**
   * The policy file (policies, budgets, alerts, forecast horizons). Without one the shadow
   * manager does not run (tests of the VM path only).
   */
  config?: UmbraConfig;
  /** How the shadow manager calls agents (default: over HTTP with `token`). */
  shadowAgents?: ShadowAgentApi;
  /** Shadow reconcile period (default 2 s) and verification/rehearsal check period (default 5 s). */
  shadowMs?: number;
  checksMs?: number;
  /** How the failover controller calls agents (default: over HTTP with `token`). */
  failoverAgents?: FailoverAgentApi;
  /** Failover controller period (default 1 s: detection time counts in the RTO). */
  failoverMs?: number;
  /** Where clients go (HAProxy, DNS, both): the failover's traffic step, re-applied every pass. */
  traffic?: TrafficSwitch;
}

/** A started server. */
export interface RunningServer {
  /** e.g. `http://127.0.0.1:7000`. */
  readonly url: string;
  readonly port: number;
  readonly store: Store;
  readonly reconciler: Reconciler;
  readonly profiler: Profiler;
  /** Loops by name (their pass counters, and kick()). */
  readonly loops: { readonly reconcile: Loop; readonly profile: Loop; readonly maintain: Loop; readonly shadows?: Loop; readonly checks?: Loop; readonly alerts?: Loop; readonly failover?: Loop };
  /** The failover controller, when a policy was given. */
  readonly failover: FailoverController | null;
  /** The shadow manager, when a policy was given. */
  readonly shadows: ShadowReconciler | null;
  /** Stops the loops (waiting for passes in progress), the HTTP server, and closes the store. */
  close(): Promise<void>;
}

/** The version in package.json (read once). */
export const SERVER_VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
})();

/** Profiler defaults (the policy file's forecast defaults). */
export const DEFAULT_PROFILER: Readonly<ProfilerSettings> = Object.freeze({
  horizons: [3600, 21_600, 86_400],
  levels: [80, 95],
  historySeconds: 35 * 86_400,
  stepSeconds: 300,
  metrics: LOAD_METRICS,
});

function urlOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Starts the API and the loops. */
export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const { store, clock, log } = o;
  const leaseMs = o.leaseMs ?? 15_000;
  const heartbeatMs = o.heartbeatMs ?? Math.max(1000, Math.floor(leaseMs / 3));
  const retention = o.retention ?? DEFAULT_RETENTION;
  const http = new HttpAgentApi({ token: o.token });
  const agents = o.agents ?? http;
  const startedAt = clock.now();
  const controller = new AbortController();

  // A VM that changed state (crashed, its host lost) is judged by the failover controller at once.
  const reconciler = new Reconciler({ store, clock, agents, image: o.image, log, onStateChange: () => shadowLoops.failover?.kick() });
  const profiler = new Profiler({ store, clock, log, settings: { ...DEFAULT_PROFILER, ...o.profiler } });
  let url = '';
  const config = o.config;
  // The shadow manager keeps off a VM's replication while the controller fails it over.
  const gate = new FailoverGate();
  const shadows = config
    ? new ShadowReconciler({ store, clock, agents: o.shadowAgents ?? new HttpShadowAgentApi(http), image: o.image, config: () => config, log, gate })
    : null;
  const alertSender = config
    ? new AlertSender({
        store,
        clock,
        log,
        webhookUrl: config.alerts.webhook_url,
        alertmanagerUrl: config.alerts.alertmanager_url,
        resendMs: config.alerts.resend_interval * 1000,
        serverUrl: () => url,
      })
    : null;
  const failover = config
    ? new FailoverController({
        store,
        clock,
        agents: o.failoverAgents ?? new HttpFailoverAgentApi(http),
        config: () => config,
        log,
        ...(o.traffic ? { traffic: o.traffic } : {}),
        kickShadows: () => shadowLoops.shadows?.kick(),
        gate,
      })
    : null;
  const shadowLoops: { shadows?: Loop; checks?: Loop; alerts?: Loop; failover?: Loop } = shadows
    ? {
        ...(failover ? { failover: new Loop({ name: 'failover', clock, intervalMs: o.failoverMs ?? 1000, log, run: () => failover.pass() }) } : {}),
        shadows: new Loop({ name: 'shadows', clock, intervalMs: o.shadowMs ?? 2000, log, run: (s) => shadows.pass(s) }),
        checks: new Loop({ name: 'checks', clock, intervalMs: o.checksMs ?? 5000, log, run: (s) => shadows.checks(s) }),
        ...(alertSender?.enabled ? { alerts: new Loop({ name: 'alerts', clock, intervalMs: 2000, log, run: () => alertSender.pass() }) } : {}),
      }
    : {};
  const loops = {
    ...shadowLoops,
    reconcile: new Loop({ name: 'reconcile', clock, intervalMs: o.reconcileMs ?? 5000, log, run: (s) => reconciler.pass(s) }),
    profile: new Loop({ name: 'profile', clock, intervalMs: o.profileMs ?? 900_000, log, run: (s) => profiler.pass(s) }),
    maintain: new Loop({
      name: 'maintain',
      clock,
      intervalMs: o.maintenanceMs ?? 600_000,
      log,
      run: async () => {
        const r = await store.transaction((tx) => tx.maintain(clock.now() / 1000, retention));
        if (r.downsampled || r.expired) log.info({ ...r }, 'samples downsampled and expired');
      },
    }),
  };

  const server = httpServer.createServer(
    createRequestHandler({
      store,
      clock,
      token: o.token,
      log,
      reconciler,
      profiler,
      agents,
      placement: o.placement ?? DEFAULT_PLACEMENT,
      leaseMs,
      heartbeatMs,
      maxBodyBytes: o.maxBodyBytes ?? 16 * 1024 * 1024,
      version: SERVER_VERSION,
      startedAt,
      url: () => url,
      kickReconciler: () => loops.reconcile.kick(),
      ...(shadows ? { shadows, kickShadows: () => shadowLoops.shadows?.kick() } : {}),
      ...(failover ? { failover } : {}),
    }),
  );
  server.keepAliveTimeout = 5000;
  const host = o.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: o.port ?? 0, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  url = urlOf(host, port);
  log.info({ url, leaseMs, heartbeatMs, version: SERVER_VERSION }, 'server listening');

  // Loops start after the store is open and the API is up; they stop together.
  const running = Object.values(loops).map((l) => l.run(controller.signal));

  let closing: Promise<void> | null = null;
  return {
    url,
    port,
    store,
    reconciler,
    profiler,
    loops,
    shadows,
    failover,
    close: () =>
      (closing ??= (async () => {
        controller.abort();
        await Promise.all(running);
        await o.traffic?.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await store.close();
        log.info({ url }, 'server stopped');
      })()),
  };
}
