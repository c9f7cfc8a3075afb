/**
 * A QMP client over a unix socket (node:net): greeting, `qmp_capabilities`, commands matched
 * to replies by id, asynchronous events (listeners and async iterators), per-command
 * timeouts on an injected clock, reconnection to the same socket, and a clean close.
 *
 * QEMU serves one QMP client per monitor socket at a time: a second client's connection is
 * accepted by the kernel but gets no greeting until the first one disconnects (it then times
 * out here with `QMP_TIMEOUT`, which is retryable).
 */
import net from 'node:net';
import { systemClock, type Clock } from '../../core/clock.js';
import { HvCommandError, QmpDisconnectedError, QmpProtocolError, QmpTimeoutError, type HypervisorErrorContext } from '../errors.js';
import { Fanout } from '../events.js';

/** An asynchronous QMP event. */
export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
  /** QEMU's timestamp, ms since the epoch. */
  atMs: number;
}

/** The greeting QEMU sends on connect. */
export interface QmpGreeting {
  version: { qemu: { major: number; minor: number; micro: number }; package: string };
  capabilities: string[];
}

/** Options of {@link QmpClient.connect}. */
export interface QmpClientOptions {
  /** Path of the QMP unix socket. */
  path: string;
  clock?: Clock;
  /** Greeting + `qmp_capabilities` must finish within this (ms, default 5000). */
  connectTimeoutMs?: number;
  /** Default per-command timeout (ms, default 10000). */
  commandTimeoutMs?: number;
  /** Put into every error's context (`vmId`). */
  context?: HypervisorErrorContext;
}

interface Pending {
  command: string;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  timer: AbortController;
}

type DisconnectListener = (err: Error) => void;

/** One QMP connection, reconnectable. See the module comment. */
export class QmpClient {
  private socket: net.Socket | null = null;
  private buf = '';
  private nextId = 1;
  private pending = new Map<string, Pending>();
  private readonly fan = new Fanout<QmpEvent>();
  private disconnectListeners = new Set<DisconnectListener>();
  private closing = false;
  private closed = false;
  private ready = false;
  private readonly clock: Clock;
  private readonly connectTimeoutMs: number;
  private readonly commandTimeoutMs: number;
  private readonly ctx: HypervisorErrorContext;
  private _greeting: QmpGreeting | null = null;
  /** Messages received before the handshake finished (only the greeting and the capabilities reply are expected). */
  private handshake: ((msg: Record<string, unknown>) => void) | null = null;

  private constructor(readonly path: string, opts: QmpClientOptions) {
    this.clock = opts.clock ?? systemClock;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 5000;
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 10000;
    this.ctx = opts.context ?? {};
  }

  /** Connects, reads the greeting and negotiates capabilities. */
  static async connect(opts: QmpClientOptions): Promise<QmpClient> {
    const c = new QmpClient(opts.path, opts);
    await c.open();
    return c;
  }

  /** The greeting of the current connection. */
  get greeting(): QmpGreeting {
    if (!this._greeting) throw new QmpDisconnectedError('QMP not connected', this.ctx);
    return this._greeting;
  }

  /** True while a negotiated connection is open. */
  get connected(): boolean {
    return this.ready && this.socket !== null && !this.closing;
  }

  /**
   * Reconnects to the same socket after the connection dropped (or the client was restarted):
   * commands still pending on the old connection were already rejected with `QMP_DISCONNECTED`.
   */
  async reconnect(): Promise<void> {
    if (this.closed) throw new QmpDisconnectedError('QMP client was closed; connect a new one', this.ctx);
    this.dropSocket();
    await this.open();
  }

  /**
   * Runs one command and resolves with its `return` value. Rejects with `HV_COMMAND_FAILED`
   * (QMP error reply, `errorClass`/`desc`), `QMP_TIMEOUT` or `QMP_DISCONNECTED`.
   */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, opts: { timeoutMs?: number } = {}): Promise<T> {
    if (!this.connected) return Promise.reject(new QmpDisconnectedError(`QMP not connected (${command})`, this.ctx));
    return this.send(command, args, opts.timeoutMs ?? this.commandTimeoutMs) as Promise<T>;
  }

  /** Adds an event listener; returns the function that removes it. */
  onEvent(fn: (ev: QmpEvent) => void, pred?: (ev: QmpEvent) => boolean): () => void {
    return this.fan.subscribe(fn, pred);
  }

  /** Events from now on as an async iterator; ends on `signal` or `close()`. */
  events(opts: { pred?: (ev: QmpEvent) => boolean; signal?: AbortSignal } = {}): AsyncIterableIterator<QmpEvent> {
    return this.fan.iterate(opts);
  }

  /** Called when the connection drops without `close()` (QEMU exited, socket error). */
  onDisconnect(fn: DisconnectListener): () => void {
    this.disconnectListeners.add(fn);
    return () => this.disconnectListeners.delete(fn);
  }

  /** Closes the connection (QEMU keeps running), rejects pending commands and ends event iterators. */
  async close(): Promise<void> {
    this.closing = true;
    this.closed = true;
    this.ready = false;
    const s = this.socket;
    this.failPending(new QmpDisconnectedError('QMP client closed', this.ctx));
    this.fan.close();
    this.disconnectListeners.clear();
    if (!s || s.destroyed) return;
    const grace = new AbortController();
    await new Promise<void>((resolve) => {
      s.once('close', () => resolve());
      s.end();
      // A peer that never closes its side must not keep us waiting.
      this.clock.sleep(500, grace.signal).then(
        () => s.destroy(),
        () => undefined,
      );
    });
    grace.abort();
  }

  private open(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = new AbortController();
      let settled = false;
      const fail = (e: Error) => {
        if (settled) return;
        settled = true;
        timer.abort();
        this.handshake = null;
        this.dropSocket();
        reject(e);
      };
      const s = net.createConnection({ path: this.path });
      this.socket = s;
      this.buf = '';
      s.setEncoding('utf8');
      let stage: 'greeting' | 'caps' = 'greeting';
      this.handshake = (msg) => {
        if (stage === 'greeting') {
          if (!msg.QMP || typeof msg.QMP !== 'object') return fail(new QmpProtocolError(`expected a QMP greeting, got ${JSON.stringify(msg).slice(0, 200)}`, this.ctx));
          this._greeting = msg.QMP as QmpGreeting;
          stage = 'caps';
          this.handshake = null; // let the capabilities reply take the normal path
          this.send('qmp_capabilities', undefined, this.connectTimeoutMs).then(
            () => {
              if (settled) return;
              settled = true;
              timer.abort();
              this.ready = true;
              resolve();
            },
            (e: Error) => fail(e),
          );
          return;
        }
      };
      s.on('data', (chunk: string) => this.onData(chunk));
      s.on('error', (e) => {
        if (!settled) fail(new QmpDisconnectedError(`cannot connect to QMP socket ${this.path}: ${(e as NodeJS.ErrnoException).code ?? e.message}`, this.ctx, e));
      });
      s.on('close', () => {
        if (this.socket !== s) return; // a replaced socket
        this.socket = null;
        this.ready = false;
        if (!settled) return fail(new QmpDisconnectedError(`QMP socket ${this.path} closed during the handshake`, this.ctx));
        const err = new QmpDisconnectedError(`QMP connection to ${this.path} closed`, this.ctx);
        this.failPending(err);
        if (!this.closing) for (const l of [...this.disconnectListeners]) l(err);
      });
      this.clock.sleep(this.connectTimeoutMs, timer.signal).then(
        () => {
          if (!timer.signal.aborted) fail(new QmpTimeoutError('greeting', this.connectTimeoutMs, this.ctx));
        },
        () => undefined,
      );
    });
  }

  private send(command: string, args: Record<string, unknown> | undefined, timeoutMs: number): Promise<unknown> {
    const s = this.socket;
    if (!s) return Promise.reject(new QmpDisconnectedError(`QMP not connected (${command})`, this.ctx));
    const id = `u${this.nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = new AbortController();
      this.pending.set(id, { command, resolve, reject, timer });
      const msg: Record<string, unknown> = { execute: command, id };
      if (args && Object.keys(args).length) msg.arguments = args;
      s.write(`${JSON.stringify(msg)}\n`);
      this.clock.sleep(timeoutMs, timer.signal).then(
        () => {
          if (timer.signal.aborted || !this.pending.has(id)) return;
          this.pending.delete(id);
          reject(new QmpTimeoutError(command, timeoutMs, this.ctx));
        },
        () => undefined,
      );
    });
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (!line) continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        const err = new QmpProtocolError(`unparsable QMP line: ${line.slice(0, 200)}`, this.ctx);
        this.failPending(err);
        this.socket?.destroy(err);
        return;
      }
      this.onMessage(msg);
    }
  }

  private onMessage(msg: Record<string, unknown>): void {
    if (this.handshake) return this.handshake(msg);
    if (typeof msg.event === 'string') {
      const ts = msg.timestamp as { seconds?: number; microseconds?: number } | undefined;
      const atMs = ts && typeof ts.seconds === 'number' ? ts.seconds * 1000 + (ts.microseconds ?? 0) / 1000 : this.clock.now();
      this.fan.publish({ event: msg.event, data: (msg.data as Record<string, unknown>) ?? {}, atMs });
      return;
    }
    const id = typeof msg.id === 'string' ? msg.id : undefined;
    const p = id !== undefined ? this.pending.get(id) : undefined;
    if (!p) return; // a reply after its timeout, or not ours
    this.pending.delete(id!);
    p.timer.abort();
    if ('error' in msg) {
      const e = (msg.error ?? {}) as { class?: string; desc?: string };
      p.reject(new HvCommandError(p.command, e.class ?? 'GenericError', e.desc ?? 'unknown error', this.ctx));
    } else p.resolve(msg.return);
  }

  private failPending(err: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) {
      p.timer.abort();
      p.reject(err);
    }
  }

  private dropSocket(): void {
    const s = this.socket;
    this.socket = null;
    this.ready = false;
    if (s && !s.destroyed) s.destroy();
  }
}
