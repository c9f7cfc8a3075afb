/**
 * The agent's lease with the server: register, then heartbeat every `heartbeatSeconds`;
 * retry with backoff while the server is unreachable; and a watchdog that fences the host when
 * the lease could not be renewed in time.
 *
 * Safety invariant: the agent fences (stops its primaries) no later than the server can
 * consider its lease expired. The lease is counted from when a renewal request was SENT (the
 * server granted it at some time after that), and the watchdog fires `marginMs` before that
 * lease ends, so a shadow promoted elsewhere after the server saw the lease expire is never a
 * second writer. The last renewal is persisted, so an agent restarted while the server is
 * unreachable does not grant itself a fresh lease.
 */
import type { Clock } from '../core/clock.js';
import type { AgentRegistration, Heartbeat } from '../api/protocol.js';
import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import { errText, type AgentLogger } from './log.js';
import { ServerRequestError, type ServerClient } from './server-client.js';
import { pause, Wakeup } from './timing.js';

/** Where the lease stands. Read-only for callers. */
export interface LeaseState {
  /** The server accepted our registration (and has not forgotten us since). */
  registered: boolean;
  /** Lease length the server granted (or the configured one before any reply), ms. */
  leaseMs: number;
  /** Heartbeat period, ms. */
  heartbeatMs: number;
  /** When the last successful renewal was sent (clock ms). */
  lastRenewedAt: number;
  /** The lease ran out and the host was fenced; cleared by the next successful renewal. */
  fenced: boolean;
  /** When the host was last fenced (clock ms), or null. */
  fencedAt: number | null;
  /** Consecutive failed renewals. */
  failures: number;
  /** Why the last renewal failed, or null. */
  lastError: string | null;
}

/** The safety margin before the lease's end: 10 % of the lease, at most 2 s. */
export function defaultFenceMarginMs(leaseMs: number): number {
  return Math.min(2000, Math.floor(leaseMs / 10));
}

/** The clock time at which the watchdog fences when no renewal succeeded before it. Pure. */
export function fenceDeadline(state: Pick<LeaseState, 'lastRenewedAt' | 'leaseMs'>, marginMs: number): number {
  return state.lastRenewedAt + state.leaseMs - marginMs;
}

/** Persistence of the last renewal time (a file in the run dir for the real agent). */
export interface LeasePersistence {
  load(): number | null;
  save(lastRenewedAt: number): void;
}

/** Options of {@link LeaseKeeper}. */
export interface LeaseKeeperOptions {
  name: string;
  clock: Clock;
  client: ServerClient;
  /** The registration to send (built fresh each time: the VMs running now). */
  registration: () => Promise<AgentRegistration>;
  /** The heartbeat to send (the VMs' observed states now). */
  heartbeat: () => Promise<Heartbeat>;
  /** Fences the host (see fence.ts). Called once per lease loss. */
  fence: () => Promise<unknown>;
  log: AgentLogger;
  /** Lease length assumed before the server's first reply, ms. */
  leaseMs: number;
  /** Heartbeat period before the server's first reply, ms (default a third of the lease). */
  heartbeatMs?: number;
  /** How long before the lease's end the watchdog fences (default {@link defaultFenceMarginMs}). */
  marginMs?: (leaseMs: number) => number;
  /** Retry delays (the cap is also held under the heartbeat period). */
  backoff?: Partial<BackoffPolicy>;
  random?: () => number;
  persistence?: LeasePersistence;
}

/** See the module comment. */
export class LeaseKeeper {
  private readonly s: LeaseState;
  /** Pokes the renew loop: send a heartbeat now. */
  private readonly wake = new Wakeup();
  /** Pokes the watchdog: the lease moved. */
  private readonly renewed = new Wakeup();
  /** The server forgot us: register without waiting for the backoff. */
  private registerNow = false;
  /** Whether the last attempt renewed the lease (null before any attempt). */
  private lastOk: boolean | null = null;

  constructor(private readonly opts: LeaseKeeperOptions) {
    const persisted = opts.persistence?.load() ?? null;
    this.s = {
      registered: false,
      leaseMs: opts.leaseMs,
      heartbeatMs: opts.heartbeatMs ?? Math.max(1, Math.floor(opts.leaseMs / 3)),
      // A fresh agent (nothing persisted) counts its lease from its start.
      lastRenewedAt: persisted ?? opts.clock.now(),
      fenced: false,
      fencedAt: null,
      failures: 0,
      lastError: null,
    };
  }

  /** A snapshot of the lease state. */
  get state(): Readonly<LeaseState> {
    return { ...this.s };
  }

  /** The clock time the watchdog fences at, unless a renewal comes first. */
  get deadline(): number {
    return fenceDeadline(this.s, this.margin());
  }

  /** Sends a heartbeat now instead of at the next period (a VM changed state). */
  poke(): void {
    this.wake.poke();
  }

  /** One registration or heartbeat attempt. True when the lease was renewed. */
  async renewOnce(signal?: AbortSignal): Promise<boolean> {
    const ok = await this.attempt(signal);
    this.lastOk = ok;
    return ok;
  }

  private async attempt(signal?: AbortSignal): Promise<boolean> {
    const { client, clock, log, name } = this.opts;
    const sentAt = clock.now();
    try {
      if (!this.s.registered) {
        const reply = await client.register(await this.opts.registration(), signal);
        this.s.leaseMs = reply.leaseSeconds * 1000;
        this.s.heartbeatMs = reply.heartbeatSeconds * 1000;
        this.s.registered = true;
        log.info({ leaseSeconds: reply.leaseSeconds, heartbeatSeconds: reply.heartbeatSeconds }, 'registered with the server');
      } else {
        const reply = await client.heartbeat(name, await this.opts.heartbeat(), signal);
        this.s.leaseMs = reply.leaseSeconds * 1000;
      }
    } catch (e) {
      if (signal?.aborted) return false;
      this.s.failures++;
      this.s.lastError = errText(e);
      // The server does not know us (it lost its state, or our lease was dropped): register again.
      if (e instanceof ServerRequestError && e.status === 404 && this.s.registered) {
        this.s.registered = false;
        this.registerNow = true;
      }
      const fields = { failures: this.s.failures, status: e instanceof ServerRequestError ? e.status : null, err: this.s.lastError, fenceInMs: this.deadline - clock.now() };
      if (this.s.failures === 1 || this.s.failures % 10 === 0) log.warn(fields, 'lease renewal failed');
      else log.debug(fields, 'lease renewal failed');
      return false;
    }
    this.s.lastRenewedAt = Math.max(this.s.lastRenewedAt, sentAt);
    if (this.s.failures > 0) log.info({ afterFailures: this.s.failures }, 'lease renewed after failures');
    this.s.failures = 0;
    this.s.lastError = null;
    if (this.s.fenced) {
      this.s.fenced = false;
      // Fenced VMs stay paused: only the server (failover controller) may let them run again.
      log.warn({ fencedAt: this.s.fencedAt }, 'lease renewed after fencing; fenced VMs stay paused until asked to continue');
    }
    this.opts.persistence?.save(this.s.lastRenewedAt);
    this.renewed.poke();
    return true;
  }

  /** Runs the renew loop and the watchdog until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    await Promise.all([this.renewLoop(signal), this.watchdog(signal)]);
  }

  private async renewLoop(signal: AbortSignal): Promise<void> {
    const policy: BackoffPolicy = { ...DEFAULT_BACKOFF, ...this.opts.backoff };
    while (!signal.aborted) {
      // After an attempt (also one made before `run`): a heartbeat period after a success,
      // at once when the server forgot us, else the backoff.
      if (this.lastOk !== null) {
        const wait = this.lastOk
          ? this.s.heartbeatMs
          : this.registerNow
            ? 0
            : backoffDelayMs(this.s.failures, { ...policy, maxMs: Math.min(policy.maxMs, this.s.heartbeatMs) }, this.opts.random);
        this.registerNow = false;
        if ((await pause(this.opts.clock, wait, signal, this.wake)) === 'aborted') return;
      }
      await this.renewOnce(signal);
    }
  }

  private async watchdog(signal: AbortSignal): Promise<void> {
    const { clock, log } = this.opts;
    while (!signal.aborted) {
      if (this.s.fenced) {
        // Wait for a renewal (the renew loop pokes `renewed`).
        if ((await pause(clock, this.s.heartbeatMs, signal, this.renewed)) === 'aborted') return;
        continue;
      }
      const now = clock.now();
      const deadline = this.deadline;
      if (now < deadline) {
        if ((await pause(clock, deadline - now, signal, this.renewed)) === 'aborted') return;
        continue;
      }
      this.s.fenced = true;
      this.s.fencedAt = now;
      log.error({ lastRenewedAt: this.s.lastRenewedAt, leaseMs: this.s.leaseMs, failures: this.s.failures, err: this.s.lastError }, 'lease lost: fencing this host');
      try {
        await this.opts.fence();
      } catch (e) {
        log.error({ err: errText(e) }, 'fencing failed');
      }
    }
  }

  private margin(): number {
    return (this.opts.marginMs ?? defaultFenceMarginMs)(this.s.leaseMs);
  }
}
