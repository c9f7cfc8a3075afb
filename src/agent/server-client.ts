/**
 * The agent's side of the server API (src/api/protocol.ts): register, heartbeat, post samples.
 * One interface, one HTTP implementation; tests inject fakes or a protocol stand-in server.
 */
import type { z } from 'zod';
import type { Clock } from '../core/clock.js';
import { UmbraError } from '../core/errors.js';
import {
  heartbeatReplySchema,
  registerReplySchema,
  type AgentRegistration,
  type Heartbeat,
  type RegisterReply,
  type SampleBatch,
} from '../api/protocol.js';
import { deadlineSignal } from './timing.js';

/**
 * A request to the server failed: unreachable (`status` null), refused (4xx) or failed (5xx),
 * or its reply did not match the protocol. Code `SOURCE_UNAVAILABLE`; `retryable` is true for
 * network errors, timeouts, 408, 429 and 5xx. A 404 on heartbeat means the server does not know
 * this agent (it lost its state): register again.
 */
export class ServerRequestError extends UmbraError {
  /** HTTP status, or null when no answer came. */
  readonly status: number | null;
  /** The route, e.g. `POST /v1/agents/register`. */
  readonly route: string;
  constructor(route: string, status: number | null, message: string, cause?: unknown) {
    const retryable = status === null || status === 408 || status === 429 || status >= 500;
    super('SOURCE_UNAVAILABLE', `${route}: ${message}`, { route, status }, { cause, retryable });
    this.name = 'ServerRequestError';
    this.route = route;
    this.status = status;
  }
}

/** What the agent asks of the server. */
export interface ServerClient {
  /** `POST /v1/agents/register`: announces the agent and its VMs; the reply sets lease and heartbeat period. */
  register(reg: AgentRegistration, signal?: AbortSignal): Promise<RegisterReply>;
  /** `POST /v1/agents/:name/heartbeat`: renews the lease. */
  heartbeat(name: string, hb: Heartbeat, signal?: AbortSignal): Promise<{ leaseSeconds: number }>;
  /** `POST /v1/samples`: a batch of usage samples. */
  postSamples(batch: SampleBatch, signal?: AbortSignal): Promise<{ accepted: number }>;
}

/** Options of {@link HttpServerClient}. */
export interface HttpServerClientOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:7000`. */
  baseUrl: string;
  /** Bearer token (sent in the Authorization header only; never logged). */
  token: string;
  clock: Clock;
  /** Per-request timeout, ms (default 5000). */
  timeoutMs?: number;
}

/** {@link ServerClient} over HTTP (Node's fetch). */
export class HttpServerClient implements ServerClient {
  private readonly base: string;
  constructor(private readonly opts: HttpServerClientOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
  }

  register(reg: AgentRegistration, signal?: AbortSignal): Promise<RegisterReply> {
    return this.post('/v1/agents/register', reg, registerReplySchema, signal);
  }

  heartbeat(name: string, hb: Heartbeat, signal?: AbortSignal): Promise<{ leaseSeconds: number }> {
    return this.post(`/v1/agents/${encodeURIComponent(name)}/heartbeat`, hb, heartbeatReplySchema, signal);
  }

  async postSamples(batch: SampleBatch, signal?: AbortSignal): Promise<{ accepted: number }> {
    const r = await this.post('/v1/samples', batch, null, signal);
    const accepted = r && typeof r === 'object' && typeof (r as { accepted?: unknown }).accepted === 'number' ? (r as { accepted: number }).accepted : batch.samples.length;
    return { accepted };
  }

  private async post<S extends z.ZodType>(path: string, body: unknown, schema: S | null, parent?: AbortSignal): Promise<z.output<S>> {
    const route = `POST ${path}`;
    const { signal, clear } = deadlineSignal(this.opts.clock, this.opts.timeoutMs ?? 5000, parent);
    let res: Response;
    let text: string;
    try {
      res = await fetch(this.base + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.opts.token}` },
        body: JSON.stringify(body),
        signal,
      });
      text = await res.text();
    } catch (e) {
      throw new ServerRequestError(route, null, `no answer (${signal.aborted ? 'timed out or aborted' : e instanceof Error ? e.message : String(e)})`, e);
    } finally {
      clear();
    }
    if (!res.ok) throw new ServerRequestError(route, res.status, `HTTP ${res.status}: ${errorMessage(text)}`);
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch (e) {
      throw new ServerRequestError(route, res.status, 'reply is not JSON', e);
    }
    if (!schema) return json as z.output<S>;
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new ServerRequestError(route, res.status, `reply does not match the protocol: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    return parsed.data;
  }
}

/** The `error.message` of a protocol error body, else the text's start. */
function errorMessage(text: string): string {
  try {
    const m = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    if (typeof m === 'string') return m;
  } catch {
    // not JSON
  }
  return text.slice(0, 200);
}
