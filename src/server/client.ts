/**
 * A client of the server API for the CLI (and the lab): the CLI reaches the server only through
 * it. Errors keep the server's code; an unreachable server is `SOURCE_UNAVAILABLE` (retryable).
 */
import type { StatusReport } from '../api/protocol.js';
import { UmbraError, type ErrorCode } from '../core/errors.js';

/** An error reply from the server (its code, message and context), or no reply at all. */
export class ServerApiError extends UmbraError {
  /** HTTP status, or null when the server did not answer. */
  readonly status: number | null;
  constructor(code: ErrorCode, message: string, status: number | null, context: Record<string, unknown>, opts: { retryable: boolean; cause?: unknown }) {
    super(code, message, context, opts);
    this.name = 'ServerApiError';
    this.status = status;
  }
}

/** Options of {@link ServerApiClient}. */
export interface ServerApiClientOptions {
  /** e.g. `http://127.0.0.1:7000`. */
  baseUrl: string;
  token: string;
  /** Per-request timeout, ms (default 10 000). */
  timeoutMs?: number;
}

/** See the module comment. */
export class ServerApiClient {
  private readonly base: string;
  constructor(private readonly o: ServerApiClientOptions) {
    this.base = o.baseUrl.replace(/\/+$/, '');
  }

  /** `GET /v1/status`. */
  status(): Promise<StatusReport> {
    return this.request<StatusReport>('GET', '/v1/status');
  }

  /** Any route; resolves with the parsed JSON reply (undefined for 204). */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = this.base + path;
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method,
        headers: { authorization: `Bearer ${this.o.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000),
      });
      text = await res.text();
    } catch (e) {
      const why = e instanceof Error ? (e.name === 'TimeoutError' ? 'timed out' : ((e.cause as Error | undefined)?.message ?? e.message)) : String(e);
      throw new ServerApiError('SOURCE_UNAVAILABLE', `cannot reach the Umbra server at ${this.base}: ${why}`, null, { url: this.base }, { retryable: true, cause: e });
    }
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const err = (json as { error?: { code?: string; message?: string; retryable?: boolean; context?: Record<string, unknown> } } | undefined)?.error;
      // The server speaks the same ErrorCode vocabulary (it renders UmbraErrors).
      const code = (typeof err?.code === 'string' ? err.code : 'INTERNAL') as ErrorCode;
      const message = `${method} ${path}: HTTP ${res.status}: ${err?.message ?? text.slice(0, 200)}`;
      throw new ServerApiError(code, message, res.status, { url: this.base, ...(err?.context ?? {}) }, { retryable: err?.retryable === true });
    }
    return json as T;
  }
}
