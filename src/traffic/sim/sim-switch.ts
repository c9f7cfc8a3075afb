/**
 * A SIMULATED traffic switch for unit tests of the failover controller: an in-memory world of
 * services and their routes, with the same semantics and errors as the HAProxy driver (mode
 * `proxy`: routes ports, checks health, disable = maint) or the DNS driver (mode `dns`: an
 * address only, health unknown, disable = no record), plus the hooks tests need: change a
 * route behind the switch's back ({@link SimTrafficWorld.tamper}), fail the next calls, count
 * requests and 5xx. Nothing here talks to a network.
 */
import { TrafficCommandError, TrafficServiceUnknownError, TrafficUnavailableError, type TrafficError } from '../errors.js';
import {
  assertValidRequest,
  type Backend,
  type EnsureOptions,
  type EnsureResult,
  type RouteState,
  type RouteTarget,
  type ServerCounters,
  type ServiceStats,
  type TrafficCapabilities,
  type TrafficSwitch,
} from '../switch.js';

/** One simulated service route (mutable world state; observations are copies). */
export interface SimRoute {
  host: string;
  port: number;
  enabled: boolean;
  health: 'up' | 'down';
  counters: ServerCounters;
}

/** The world a {@link SimTrafficSwitch} routes in; several switches may share one. */
export class SimTrafficWorld {
  readonly routes = new Map<string, SimRoute>();
  /** Every change applied through a switch, in order (`service: action`). */
  readonly log: string[] = [];
  private failures: (() => TrafficError)[] = [];

  /** A world with these services, each routed to 127.0.0.1 on ports 8001, 8002... */
  static withServices(...services: string[]): SimTrafficWorld {
    const w = new SimTrafficWorld();
    services.forEach((s, i) => w.addService(s, { host: '127.0.0.1', port: 8001 + i }));
    return w;
  }

  /** Configures a service (as a config file would), enabled and up. */
  addService(service: string, backend: Backend): void {
    this.routes.set(service, { ...backend, enabled: true, health: 'up', counters: { requests: 0, http5xx: 0, connectionErrors: 0, responseErrors: 0 } });
  }

  /** Changes a route behind the switch's back (an operator's command, a reload). */
  tamper(service: string, change: Partial<Pick<SimRoute, 'host' | 'port' | 'enabled' | 'health'>>): void {
    Object.assign(this.route(service), change);
  }

  /** Counts `n` requests through the service, `errors5xx` of them answered 5xx. */
  serve(service: string, n: number, errors5xx = 0): void {
    const c = this.route(service).counters;
    c.requests += n;
    c.http5xx += errors5xx;
  }

  /** The next call of any switch on this world fails with `make()` (queued, one per call). */
  failNext(make: () => TrafficError = () => new TrafficUnavailableError('simulated outage', { driver: 'sim' })): void {
    this.failures.push(make);
  }

  /** Throws the queued failure, if any (called by the switch before each operation). */
  takeFailure(): void {
    const f = this.failures.shift();
    if (f) throw f();
  }

  route(service: string): SimRoute {
    const r = this.routes.get(service);
    if (!r) throw new TrafficServiceUnknownError(service, { driver: 'sim' });
    return r;
  }
}

/** Options of a {@link SimTrafficSwitch}. */
export interface SimSwitchOptions {
  /** Driver name (default `sim`; give two switches in one multi switch different names). */
  name?: string;
  /** `proxy` behaves like HAProxy (default), `dns` like the DNS driver. */
  mode?: 'proxy' | 'dns';
}

/** A {@link TrafficSwitch} over a {@link SimTrafficWorld}. */
export class SimTrafficSwitch implements TrafficSwitch {
  readonly name: string;
  readonly capabilities: TrafficCapabilities;
  private readonly mode: 'proxy' | 'dns';
  private closed = false;
  constructor(
    readonly world: SimTrafficWorld,
    opts: SimSwitchOptions = {},
  ) {
    this.name = opts.name ?? 'sim';
    this.mode = opts.mode ?? 'proxy';
    const proxy = this.mode === 'proxy';
    this.capabilities = { routesPort: proxy, checksHealth: proxy, ipv6: proxy };
    if (proxy) this.stats = (service) => this.statsOf(service);
  }

  async observe(service: string): Promise<RouteState> {
    this.enter(service, undefined, 'observe');
    return this.snapshot(service);
  }

  async ensure(service: string, backend: Backend, opts: EnsureOptions = {}): Promise<EnsureResult> {
    this.enter(service, backend, 'ensure');
    const before = this.snapshot(service);
    const r = this.world.route(service);
    const actions: string[] = [];
    const moved = r.host !== backend.host || (this.mode === 'proxy' && r.port !== backend.port);
    if (this.mode === 'dns' && (moved || !r.enabled)) {
      actions.push(`record ${backend.host}`);
      Object.assign(r, { host: backend.host, enabled: true });
    } else {
      if (moved) {
        actions.push(`addr ${backend.host} port ${backend.port}`);
        Object.assign(r, { host: backend.host, port: backend.port });
      }
      if (!r.enabled) {
        actions.push('state ready');
        r.enabled = true;
      }
    }
    if (this.mode === 'proxy' && moved && opts.assumeHealthy && r.health !== 'up') {
      actions.push('health up');
      r.health = 'up';
    }
    for (const a of actions) this.world.log.push(`${service}: ${a}`);
    return { changed: actions.length > 0, actions, before };
  }

  async disable(service: string): Promise<EnsureResult> {
    this.enter(service, undefined, 'disable');
    const before = this.snapshot(service);
    const r = this.world.route(service);
    if (!r.enabled) return { changed: false, actions: [], before };
    r.enabled = false;
    const action = this.mode === 'proxy' ? 'state maint' : 'delete record';
    this.world.log.push(`${service}: ${action}`);
    return { changed: true, actions: [action], before };
  }

  /** Counters, in `proxy` mode only (the DNS driver has none). */
  readonly stats?: (service: string) => Promise<ServiceStats>;

  private async statsOf(service: string): Promise<ServiceStats> {
    this.enter(service, undefined, 'stats');
    const r = this.world.route(service);
    return {
      service,
      servers: { active: { ...r.counters, address: `${r.host}:${r.port}`, status: !r.enabled ? 'MAINT' : r.health === 'up' ? 'UP' : 'DOWN' } },
      backend: { ...r.counters },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private enter(service: string, backend: Backend | undefined, op: string): void {
    if (this.closed) throw new TrafficCommandError(`sim switch: ${op} after close`, 'closed', { driver: this.name, service, op });
    assertValidRequest(service, backend, { ipv6: this.capabilities.ipv6 }, { driver: this.name, op });
    this.world.takeFailure();
  }

  private snapshot(service: string): RouteState {
    const r = this.world.route(service);
    if (this.mode === 'dns') return { service, targets: r.enabled ? [{ host: r.host, port: null, enabled: true, health: 'unknown' }] : [] };
    const t: RouteTarget = { host: r.host, port: r.port, enabled: r.enabled, health: r.health };
    return { service, targets: [t] };
  }
}
