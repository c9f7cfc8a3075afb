/**
 * The HAProxy traffic driver: each service is a backend with one server slot (`active`, see
 * config.ts) that the driver re-points through the runtime API: `set server be/s addr IP port P`
 * and `set server be/s state ready|maint`, effective on the next request, no reload. Every
 * ensure reads `show servers state` first and sends only what differs (the plan is the pure
 * {@link planHaproxyEnsure}), so calling it on every pass heals a route changed behind our back.
 */
import { KeyedMutex } from '../../core/keyed-mutex.js';
import { TrafficCommandError, TrafficProtocolError, TrafficRefusedError, TrafficServiceUnknownError, type TrafficErrorContext } from '../errors.js';
import {
  assertValidRequest,
  type Backend,
  type EnsureOptions,
  type EnsureResult,
  type RouteState,
  type ServerCounters,
  type ServiceStats,
  type TrafficSwitch,
} from '../switch.js';
import { haproxyNames } from './config.js';
import { ADMIN, ADMIN_NO_TRAFFIC, counter, parseServersState, parseStatCsv, runtimeCommand, type ServerState, type StatRow } from './runtime.js';

export interface HaproxySwitchOptions {
  /** HAProxy's admin socket (`stats socket PATH level admin`). */
  socketPath: string;
  /** Per runtime command (default 2000 ms). */
  timeoutMs?: number;
  /** Proxy and server names of a service (default: config.ts's {@link haproxyNames}). */
  names?: (service: string) => { backend: string; server: string };
}

/** HAProxy's op state "running" (SRV_ST_RUNNING); 3 (stopping) still serves. */
const OP_RUNNING = 2;
const OP_STOPPING = 3;

/**
 * The runtime commands that make `s` route to `b`, in order (empty when it already does).
 * `assumeHealthy` forces the health up only together with a move (see EnsureOptions).
 */
export function planHaproxyEnsure(s: ServerState, b: Backend, opts: EnsureOptions = {}): string[] {
  const ref = `${s.backend}/${s.server}`;
  const cmds: string[] = [];
  const moved = s.address !== b.host || s.port !== b.port;
  if (moved) cmds.push(`set server ${ref} addr ${b.host} port ${b.port}`);
  // `state ready` clears forced maint and drain; a `disabled` config slot also counts as forced.
  if (s.adminState & (ADMIN.FMAINT | ADMIN.FDRAIN | ADMIN.CMAINT)) cmds.push(`set server ${ref} state ready`);
  if (s.weight === 0) cmds.push(`set server ${ref} weight 100%`);
  if (moved && opts.assumeHealthy && s.opState !== OP_RUNNING) cmds.push(`set server ${ref} health up`);
  return cmds;
}

/** The route a server slot gives its service. */
export function serverRoute(service: string, s: ServerState): RouteState {
  return {
    service,
    targets: [
      {
        host: s.address,
        port: s.port,
        enabled: (s.adminState & ADMIN_NO_TRAFFIC) === 0 && s.weight > 0,
        health: s.opState === OP_RUNNING || s.opState === OP_STOPPING ? 'up' : 'down',
      },
    ],
  };
}

/**
 * Whether HAProxy's answer to `cmd` means success. `set server ... addr` answers a sentence
 * ("IP changed from...", "no need to change the addr..."); the other `set` commands answer
 * nothing on success.
 */
export function answerOk(cmd: string, answer: string): boolean {
  const a = answer.trim();
  if (/^set server \S+ addr /.test(cmd)) return /(changed from|no need to change)/.test(a) && !/(invalid|no such|require|denied)/i.test(a);
  return a === '';
}

/** A {@link TrafficSwitch} over HAProxy's runtime API. */
export class HaproxyTrafficSwitch implements TrafficSwitch {
  readonly name = 'haproxy';
  readonly capabilities = { routesPort: true, checksHealth: true, ipv6: true };
  private readonly lock = new KeyedMutex();
  private readonly names: (service: string) => { backend: string; server: string };

  constructor(private readonly opts: HaproxySwitchOptions) {
    this.names = opts.names ?? haproxyNames;
  }

  async observe(service: string): Promise<RouteState> {
    assertValidRequest(service, undefined, { ipv6: true }, { driver: 'haproxy', op: 'observe' });
    return serverRoute(service, await this.server(service, 'observe'));
  }

  async ensure(service: string, backend: Backend, opts: EnsureOptions = {}): Promise<EnsureResult> {
    assertValidRequest(service, backend, { ipv6: true }, { driver: 'haproxy', op: 'ensure' });
    // One change per service at a time: the last caller's backend wins, never a mix.
    return this.lock.run(service, async () => {
      const s = await this.server(service, 'ensure');
      const actions = planHaproxyEnsure(s, backend, opts);
      for (const cmd of actions) await this.command(cmd, { driver: 'haproxy', op: 'ensure', service });
      return { changed: actions.length > 0, actions, before: serverRoute(service, s) };
    });
  }

  async disable(service: string): Promise<EnsureResult> {
    assertValidRequest(service, undefined, { ipv6: true }, { driver: 'haproxy', op: 'disable' });
    return this.lock.run(service, async () => {
      const s = await this.server(service, 'disable');
      const actions = s.adminState & ADMIN.FMAINT ? [] : [`set server ${s.backend}/${s.server} state maint`];
      for (const cmd of actions) await this.command(cmd, { driver: 'haproxy', op: 'disable', service });
      return { changed: actions.length > 0, actions, before: serverRoute(service, s) };
    });
  }

  async stats(service: string): Promise<ServiceStats> {
    const ctx: TrafficErrorContext = { driver: 'haproxy', op: 'stats', service };
    assertValidRequest(service, undefined, { ipv6: true }, ctx);
    const { backend } = this.names(service);
    // Type mask 2|4: the backend row and its server rows.
    const answer = await this.command(`show stat ${backend} 6 -1`, ctx, true);
    let rows: StatRow[];
    try {
      rows = parseStatCsv(answer).filter((r) => r.pxname === backend);
    } catch (e) {
      throw this.answerError(answer, ctx, e);
    }
    const be = rows.find((r) => r.svname === 'BACKEND');
    if (!be) throw new TrafficServiceUnknownError(service, ctx);
    const servers: Record<string, ServiceStats['servers'][string]> = {};
    for (const r of rows) {
      if (r.svname === 'BACKEND' || r.svname === 'FRONTEND') continue;
      servers[r.svname] = { ...counters(r), address: r.addr || null, status: r.status ?? '' };
    }
    return { service, servers, backend: counters(be) };
  }

  async close(): Promise<void> {
    // One connection per command: nothing is held between calls.
  }

  /** The service's server slot, as HAProxy sees it now. */
  private async server(service: string, op: string): Promise<ServerState> {
    const ctx: TrafficErrorContext = { driver: 'haproxy', op, service };
    const n = this.names(service);
    const answer = await this.command(`show servers state ${n.backend}`, ctx, true);
    let states: ServerState[];
    try {
      states = parseServersState(answer);
    } catch (e) {
      throw this.answerError(answer, ctx, e);
    }
    const s = states.find((x) => x.backend === n.backend && x.server === n.server);
    if (!s) throw new TrafficServiceUnknownError(service, { ...ctx, backend: n.backend, server: n.server });
    return s;
  }

  /** Runs one command; `read` commands return their answer, `set` commands must succeed. */
  private async command(cmd: string, ctx: TrafficErrorContext, read = false): Promise<string> {
    const answer = await runtimeCommand(this.opts.socketPath, cmd, { timeoutMs: this.opts.timeoutMs, context: ctx });
    if (!read && !answerOk(cmd, answer)) throw this.answerError(answer, { ...ctx, command: cmd });
    return answer;
  }

  /** The typed error for an answer that is not what was asked for. */
  private answerError(answer: string, ctx: TrafficErrorContext, cause?: unknown): Error {
    const a = answer.trim();
    if (/^(No such (backend|server|proxy)|Can't find backend)/i.test(a)) return new TrafficServiceUnknownError(ctx.service ?? '', { ...ctx, answer: a });
    if (/permission denied/i.test(a)) return new TrafficRefusedError(`HAProxy refused: ${a} (the stats socket needs "level admin")`, 'PERMISSION_DENIED', undefined, ctx);
    if (cause !== undefined) return new TrafficProtocolError(`unexpected HAProxy answer: ${a.slice(0, 200)}`, ctx, cause);
    return new TrafficCommandError(`HAProxy refused ${String(ctx.command ?? 'a command')}: ${a.slice(0, 200)}`, a, ctx);
  }
}

function counters(r: StatRow): ServerCounters {
  return { requests: counter(r, 'req_tot'), http5xx: counter(r, 'hrsp_5xx'), connectionErrors: counter(r, 'econ'), responseErrors: counter(r, 'eresp') };
}
