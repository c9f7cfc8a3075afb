/**
 * Several traffic switches configured at once (HAProxy in front of the service AND a DNS name
 * for it): every call goes to every driver, in parallel, and one driver failing never stops
 * the others (a DNS server being down must not keep HAProxy on the dead primary). The multi
 * switch is itself a {@link TrafficSwitch} and passes the same contract suite.
 */
import { TrafficError, TrafficRequestInvalidError, type TrafficErrorCode } from './errors.js';
import {
  assertValidRequest,
  type Backend,
  type EnsureOptions,
  type EnsureResult,
  type RouteState,
  type RouteTarget,
  type ServiceStats,
  type TrafficCapabilities,
  type TrafficSwitch,
} from './switch.js';

/** One driver's failure inside a multi-switch call. */
export interface DriverFailure {
  driver: string;
  error: unknown;
}

/**
 * Some drivers of a multi switch failed (the others did their part, see `results`). `code` is
 * the first failing driver's code (drivers keep their configured order); retryable when every
 * failure is.
 */
export class TrafficPartialError extends TrafficError {
  readonly failures: readonly DriverFailure[];
  /** What the drivers that succeeded did, by driver. */
  readonly results: Readonly<Record<string, EnsureResult | RouteState>>;
  constructor(op: string, service: string, failures: readonly DriverFailure[], results: Readonly<Record<string, EnsureResult | RouteState>>) {
    const codeOf = (e: unknown): TrafficErrorCode => (e instanceof TrafficError ? e.code : 'TRAFFIC_COMMAND_FAILED');
    const msg = failures.map((f) => `${f.driver}: ${f.error instanceof Error ? f.error.message : String(f.error)}`).join('; ');
    super(codeOf(failures[0].error), `${op} ${service} failed on ${failures.length} of ${failures.length + Object.keys(results).length} traffic drivers: ${msg}`, {
      driver: 'multi',
      op,
      service,
      drivers: failures.map((f) => f.driver),
    }, { cause: failures[0].error, retryable: failures.every((f) => f.error instanceof TrafficError && f.error.retryable) });
    this.name = 'TrafficPartialError';
    this.failures = failures;
    this.results = results;
  }
}

const HEALTH_ORDER = { down: 0, up: 1, unknown: 2 } as const;

/**
 * One state from the drivers' states: targets that agree (same host; same port where both
 * know one) merge into one, enabled only when EVERY driver routes there and all of them admit
 * traffic; health is the worst known. Disagreeing drivers show as a split (several targets),
 * which {@link routesTo} never accepts, so the next ensure re-applies. Pure.
 */
export function mergeRouteStates(service: string, parts: Readonly<Record<string, RouteState>>): RouteState {
  const names = Object.keys(parts);
  const merged: { t: RouteTarget; from: Set<string> }[] = [];
  for (const name of names) {
    for (const t of parts[name].targets) {
      const m = merged.find((x) => x.t.host === t.host && (x.t.port === null || t.port === null || x.t.port === t.port));
      if (!m) {
        merged.push({ t: { ...t }, from: new Set([name]) });
        continue;
      }
      m.from.add(name);
      m.t = {
        host: t.host,
        port: m.t.port ?? t.port,
        enabled: m.t.enabled && t.enabled,
        health: HEALTH_ORDER[m.t.health] <= HEALTH_ORDER[t.health] ? m.t.health : t.health,
      };
    }
  }
  const targets = merged.map(({ t, from }) => ({ ...t, enabled: t.enabled && from.size === names.length }));
  return { service, targets, parts };
}

/** A {@link TrafficSwitch} that drives several at once. */
export class MultiTrafficSwitch implements TrafficSwitch {
  readonly name = 'multi';
  readonly capabilities: TrafficCapabilities;
  readonly stats?: (service: string) => Promise<ServiceStats>;

  /** `drivers` in priority order (the first failure names the error's code); names must differ. */
  constructor(readonly drivers: readonly TrafficSwitch[]) {
    const names = drivers.map((d) => d.name);
    const problems: string[] = [];
    if (!drivers.length) problems.push('drivers: at least one');
    if (new Set(names).size !== names.length) problems.push(`drivers: names must differ (${names.join(', ')})`);
    if (problems.length) throw new TrafficRequestInvalidError(problems, { driver: 'multi' });
    this.capabilities = {
      routesPort: drivers.some((d) => d.capabilities.routesPort),
      checksHealth: drivers.some((d) => d.capabilities.checksHealth),
      ipv6: drivers.every((d) => d.capabilities.ipv6),
    };
    // The error-rate signal comes from the first driver that counts requests (HAProxy).
    const counting = drivers.find((d) => d.stats);
    if (counting) this.stats = (service) => counting.stats!(service);
  }

  async ensure(service: string, backend: Backend, opts: EnsureOptions = {}): Promise<EnsureResult> {
    // Checked here first so that a backend one driver cannot take is refused before any sends.
    assertValidRequest(service, backend, { ipv6: this.capabilities.ipv6 }, { driver: 'multi', op: 'ensure' });
    return this.combine('ensure', service, (d) => d.ensure(service, backend, opts));
  }

  async disable(service: string): Promise<EnsureResult> {
    assertValidRequest(service, undefined, { ipv6: true }, { driver: 'multi', op: 'disable' });
    return this.combine('disable', service, (d) => d.disable(service));
  }

  async observe(service: string): Promise<RouteState> {
    assertValidRequest(service, undefined, { ipv6: true }, { driver: 'multi', op: 'observe' });
    return mergeRouteStates(service, await this.all('observe', service, (d) => d.observe(service)));
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.drivers.map((d) => d.close()));
  }

  private async combine(op: string, service: string, call: (d: TrafficSwitch) => Promise<EnsureResult>): Promise<EnsureResult> {
    const results = await this.all(op, service, call);
    const names = Object.keys(results);
    return {
      changed: names.some((n) => results[n].changed),
      actions: names.flatMap((n) => results[n].actions.map((a) => `${n}: ${a}`)),
      before: mergeRouteStates(
        service,
        Object.fromEntries(names.map((n) => [n, results[n].before])),
      ),
    };
  }

  /** Calls every driver; resolves with each result, or rejects with {@link TrafficPartialError}. */
  private async all<T extends EnsureResult | RouteState>(op: string, service: string, call: (d: TrafficSwitch) => Promise<T>): Promise<Record<string, T>> {
    const settled = await Promise.allSettled(this.drivers.map((d) => call(d)));
    const results: Record<string, T> = {};
    const failures: DriverFailure[] = [];
    settled.forEach((s, i) => {
      if (s.status === 'fulfilled') results[this.drivers[i].name] = s.value;
      else failures.push({ driver: this.drivers[i].name, error: s.reason });
    });
    if (failures.length) throw new TrafficPartialError(op, service, failures, results);
    return results;
  }
}
