/**
 * A route table: method + path pattern (`/v1/vms/:id`) → handler. Matching is exact per
 * segment; `:name` captures one percent-decoded segment.
 */
import { MethodNotAllowedError } from './errors.js';
import { NotFoundError } from '../store/errors.js';

/** One route. */
export interface Route<H> {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** e.g. `/v1/agents/:name/heartbeat`. */
  path: string;
  /** False only for `/healthz`. */
  auth: boolean;
  handler: H;
}

/** A matched route with its parameters. */
export interface Match<H> {
  route: Route<H>;
  params: Record<string, string>;
}

/** Compiled routes. */
export class Router<H> {
  private readonly compiled: { route: Route<H>; segments: string[] }[];

  constructor(routes: readonly Route<H>[]) {
    this.compiled = routes.map((route) => ({ route, segments: route.path.split('/').filter(Boolean) }));
  }

  /**
   * The route for `method` and `pathname`.
   * @throws NotFoundError when no pattern matches; MethodNotAllowedError when one matches with another method
   */
  match(method: string, pathname: string): Match<H> {
    const parts = pathname.split('/').filter(Boolean);
    const allowed: string[] = [];
    for (const { route, segments } of this.compiled) {
      const params = matchSegments(segments, parts);
      if (!params) continue;
      if (route.method === method) return { route, params };
      allowed.push(route.method);
    }
    if (allowed.length) throw new MethodNotAllowedError(method, pathname, allowed);
    throw new NotFoundError('route', pathname);
  }
}

function matchSegments(pattern: readonly string[], parts: readonly string[]): Record<string, string> | null {
  if (pattern.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p.startsWith(':')) {
      let v: string;
      try {
        v = decodeURIComponent(parts[i]);
      } catch {
        return null;
      }
      params[p.slice(1)] = v;
    } else if (p !== parts[i]) return null;
  }
  return params;
}
