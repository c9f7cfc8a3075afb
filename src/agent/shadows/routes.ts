/**
 * The shadow side's agent routes (src/api/shadow-protocol.ts), mounted through the agent API's
 * `routes` option (auth is checked before they run):
 *
 *   GET    /v1/shadows                           { shadows: ShadowStatus[] }
 *   PUT    /v1/shadows/:id                       ShadowSpec -> ShadowStatus (ensure)
 *   GET    /v1/shadows/:id                       ShadowStatus
 *   DELETE /v1/shadows/:id                       204
 *   GET    /v1/shadows/:id/disk-digest?chunk=N   DiskDigest (the target's bytes; N default 1 MiB)
 *   POST   /v1/shadows/:id/rehearse              RehearseRequest -> RehearsalResult
 */
import { rehearseRequestSchema, shadowSpecSchema, type ShadowSpec } from '../../api/shadow-protocol.js';
import { DEFAULT_DIGEST_CHUNK } from '../../storage/driver.js';
import { MAX_DIGEST_CHUNK, MIN_DIGEST_CHUNK, validChunkBytes } from '../../storage/digest.js';
import { readJson, type AgentRoutes } from '../api.js';
import { HttpError } from '../http-errors.js';
import { ShadowRequestInvalidError } from './errors.js';
import type { RehearseOptions, ShadowManager } from './shadow-manager.js';

const ID = '([a-z0-9][a-z0-9-]{0,62})';
const ONE = new RegExp(`^/v1/shadows/${ID}$`);
const SUB = new RegExp(`^/v1/shadows/${ID}/(disk-digest|rehearse)$`);

type Issues = { path: string; message: string }[];
const issuesOf = (e: { issues: { path: PropertyKey[]; message: string }[] }): Issues => e.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));

/** The body as a ShadowSpec; the id comes from the path (a differing body id is refused). */
export function parseShadowSpec(body: unknown, id: string): ShadowSpec {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ShadowRequestInvalidError([{ path: '', message: 'body must be a JSON object (ShadowSpec)' }], id);
  const b = body as Record<string, unknown>;
  if (b.id !== undefined && b.id !== id) throw new ShadowRequestInvalidError([{ path: 'id', message: `${JSON.stringify(b.id)} differs from the path's ${JSON.stringify(id)}` }], id);
  const r = shadowSpecSchema.safeParse({ ...b, id });
  if (!r.success) throw new ShadowRequestInvalidError(issuesOf(r.error), id);
  return r.data;
}

/** The `chunk` query parameter (bytes), default 1 MiB. */
export function parseChunk(query: URLSearchParams, id: string): number {
  const raw = query.get('chunk');
  if (raw === null || raw === '') return DEFAULT_DIGEST_CHUNK;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !validChunkBytes(n)) throw new ShadowRequestInvalidError([{ path: 'chunk', message: `a whole number of bytes from ${MIN_DIGEST_CHUNK} to ${MAX_DIGEST_CHUNK}` }], id);
  return n;
}

/** The body as a rehearsal request (defaults filled). */
export function parseRehearse(body: unknown, id: string): RehearseOptions {
  const r = rehearseRequestSchema.safeParse(body ?? {});
  if (!r.success) throw new ShadowRequestInvalidError(issuesOf(r.error), id);
  return r.data;
}

/** The routes of {@link ShadowManager}. */
export function shadowRoutes(m: ShadowManager): AgentRoutes {
  return async (method, path, req, query) => {
    if (path === '/v1/shadows') {
      if (method !== 'GET') throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'GET');
      return { status: 200, body: { shadows: await m.list() } };
    }
    let match = ONE.exec(path);
    if (match) {
      const id = match[1];
      if (method === 'GET') return { status: 200, body: await m.status(id) };
      if (method === 'PUT') return { status: 200, body: await m.ensure(parseShadowSpec(await readJson(req), id)) };
      if (method === 'DELETE') {
        await m.delete(id);
        return { status: 204, body: null };
      }
      throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'GET, PUT or DELETE');
    }
    match = SUB.exec(path);
    if (match) {
      const [, id, op] = match;
      if (op === 'disk-digest') {
        if (method !== 'GET') throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'GET');
        return { status: 200, body: await m.digest(id, parseChunk(query, id)) };
      }
      if (method !== 'POST') throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'POST');
      return { status: 200, body: await m.rehearse(id, parseRehearse(await readJson(req), id)) };
    }
    if (path.startsWith('/v1/shadows/')) throw new HttpError(404, 'NOT_FOUND', `no route ${method} ${path}`);
    return null;
  };
}
