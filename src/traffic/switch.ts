/**
 * The traffic switch: one interface in front of every system that decides where a service's
 * clients go (HAProxy's runtime API, DNS updates, a simulated switch for unit tests, several of
 * them at once). The failover controller calls {@link TrafficSwitch.ensure} on EVERY pass, not
 * only when it switches: each call observes the switch and re-applies what differs, so a path
 * changed behind Umbra's back (an operator's runtime command, a reloaded HAProxy, a stale DNS
 * record) heals on the next pass.
 *
 * A service (e.g. `vm-1`) has exactly one active {@link Backend}: the guest service endpoint of
 * the VM that is primary now.
 */
import { isIP } from 'node:net';
import { TrafficRequestInvalidError, type TrafficErrorContext } from './errors.js';

/** Where a service's traffic should go: the primary's guest service endpoint. */
export interface Backend {
  /** An IPv4 address (HAProxy also takes IPv6; DNS publishes IPv4 as an A record). */
  host: string;
  /** TCP port of the service (1-65535). */
  port: number;
}

/** One place the switch sends (or would send) a service's traffic, as observed. */
export interface RouteTarget {
  host: string;
  /**
   * The port traffic goes to; null when the switch cannot route ports (DNS publishes an address
   * only, the client keeps its own port).
   */
  port: number | null;
  /** False when the switch holds the target but admits no new traffic (HAProxy maint/drain, weight 0). */
  enabled: boolean;
  /** The switch's own health view (HAProxy checks); `unknown` for switches that do not check (DNS). */
  health: 'up' | 'down' | 'unknown';
}

/** What the switch actually routes a service to now, rebuilt from the switch on each call. */
export interface RouteState {
  service: string;
  /**
   * Empty when the switch points nowhere (no DNS record); one entry normally; more than one
   * is a split (A records added behind Umbra's back, or drivers of a multi switch disagreeing).
   */
  targets: readonly RouteTarget[];
  /** Per driver, for a switch made of several (multi.ts); absent otherwise. */
  parts?: Readonly<Record<string, RouteState>>;
}

/** Options of {@link TrafficSwitch.ensure}. */
export interface EnsureOptions {
  /**
   * The caller health-checked the backend just now (the failover pipeline does, before it
   * switches). A switch that checks health itself (HAProxy) then marks the target up at once
   * when this call moved it, instead of waiting for its next check to pass (up to a check
   * interval of 503s). Only applied together with a move, so a pass that re-applies an
   * unchanged route never overrides the switch's own verdict on a backend that went down.
   */
  assumeHealthy?: boolean;
}

/** What one {@link TrafficSwitch.ensure} (or disable) did. */
export interface EnsureResult {
  /** False when the switch already routed as asked (nothing was sent). */
  changed: boolean;
  /** The changes applied, in order, as human-readable commands (no secrets). */
  actions: readonly string[];
  /** The state observed before the changes. */
  before: RouteState;
}

/** What a switch can do; the contract suite and the multi switch read it. */
export interface TrafficCapabilities {
  /** True when the switch routes to a port (HAProxy), false when only to an address (DNS). */
  routesPort: boolean;
  /** True when the switch checks backend health itself (RouteTarget.health is not `unknown`). */
  checksHealth: boolean;
  /** True when backends may have IPv6 hosts (DNS publishes A records only). */
  ipv6: boolean;
}

/** Cumulative counters of one server (or the backend as a whole) since the switch started. */
export interface ServerCounters {
  /** HTTP requests sent (HAProxy `req_tot`). */
  requests: number;
  /** 5xx responses (HAProxy `hrsp_5xx`; on the backend row it includes HAProxy's own 503s). */
  http5xx: number;
  /** Failed connections to the server (HAProxy `econ`). */
  connectionErrors: number;
  /** Failed or aborted responses (HAProxy `eresp`). */
  responseErrors: number;
}

/** A service's counters as read from the switch, for the `error_rate` failover signal. */
export interface ServiceStats {
  service: string;
  /** Every server slot of the service's backend, by name (Umbra's configs have one: `active`). */
  servers: Readonly<Record<string, ServerCounters & { address: string | null; status: string }>>;
  /** The backend as a whole (includes requests that found no server). */
  backend: ServerCounters;
}

/**
 * One system that routes services to backends. Implementations: HAProxy (haproxy/), DNS
 * (dns/), simulated (sim/), several at once (multi.ts). Every implementation passes the
 * contract suite (contract.ts). Methods are safe to call concurrently for different services.
 */
export interface TrafficSwitch {
  /** Driver name for logs and errors (`haproxy`, `dns`, `sim`, `multi`). */
  readonly name: string;
  readonly capabilities: TrafficCapabilities;
  /**
   * Makes the service's traffic go to `backend`: observes the switch, then applies only what
   * differs (address, port, enabled state). Idempotent: call it every reconcile pass.
   * Rejects with `REQUEST_INVALID` for a bad service name or backend (nothing is sent),
   * `NOT_FOUND` when the switch has no route for the service, `TRAFFIC_*` otherwise.
   */
  ensure(service: string, backend: Backend, opts?: EnsureOptions): Promise<EnsureResult>;
  /** What the switch routes the service to now, read from the switch itself. */
  observe(service: string): Promise<RouteState>;
  /**
   * Stops new traffic to the service (HAProxy: the slot goes to maint, keeping its address;
   * DNS: the A records are deleted). Idempotent; the next {@link ensure} re-enables it.
   */
  disable(service: string): Promise<EnsureResult>;
  /** Cumulative request and error counters, where the switch has them (HAProxy). */
  stats?(service: string): Promise<ServiceStats>;
  /** Releases what the driver holds (sockets); the switch itself keeps routing. Idempotent. */
  close(): Promise<void>;
}

/**
 * Service names: VM ids (src/api/protocol.ts), which are safe as HAProxy proxy names, on a
 * runtime command line, and as DNS labels (lowercase: DNS names are case-insensitive).
 */
export const SERVICE_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Every problem of a service name (empty when valid). */
export function serviceProblems(service: string): string[] {
  return SERVICE_NAME.test(service) ? [] : [`service ${JSON.stringify(service)}: must match ${SERVICE_NAME.source}`];
}

/** Every problem of a backend (empty when valid); `ipv6` says whether IPv6 hosts are accepted. */
export function backendProblems(backend: Backend, opts: { ipv6: boolean }): string[] {
  const out: string[] = [];
  const family = typeof backend?.host === 'string' ? isIP(backend.host) : 0;
  if (family === 0) out.push(`backend.host ${JSON.stringify(backend?.host)}: must be an IP address`);
  else if (family === 6 && !opts.ipv6) out.push(`backend.host ${backend.host}: must be an IPv4 address (this switch publishes A records)`);
  if (!Number.isInteger(backend?.port) || backend.port < 1 || backend.port > 65_535) {
    out.push(`backend.port ${JSON.stringify(backend?.port)}: must be an integer in 1..65535`);
  }
  return out;
}

/** Throws {@link TrafficRequestInvalidError} listing every problem of the service and backend. */
export function assertValidRequest(service: string, backend: Backend | undefined, opts: { ipv6: boolean }, context: TrafficErrorContext): void {
  const problems = [...serviceProblems(service), ...(backend ? backendProblems(backend, opts) : [])];
  if (problems.length) throw new TrafficRequestInvalidError(problems, { ...context, service });
}

/**
 * True when the state routes all of the service's traffic to `backend`: one target, enabled,
 * on its host, and on its port where the switch routes ports (`port: null` matches any port).
 */
export function routesTo(state: RouteState, backend: Backend): boolean {
  if (state.targets.length !== 1) return false;
  const [t] = state.targets;
  return t.enabled && t.host === backend.host && (t.port === null || t.port === backend.port);
}

/** The one enabled target traffic goes to, or null (none, disabled, or a split). */
export function activeTarget(state: RouteState): RouteTarget | null {
  const on = state.targets.filter((t) => t.enabled);
  return on.length === 1 && state.targets.length === 1 ? on[0] : null;
}
