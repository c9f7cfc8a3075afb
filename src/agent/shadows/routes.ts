/**
 * The shadow side's agent routes (src/api/shadow-protocol.ts), mounted through the agent API's
 * `routes` option (auth is checked before they run):
 *
 *   GET    /v1/shadows                           { shadows: ShadowStatus[] }
 *   PUT    /v1/shadows/:id                       ShadowSpec -> ShadowStatus (ensure)
 *   GET    /v1/shadows/:id                       ShadowStatus
 *   DELETE /v1/shadows/:id[?promoted=kill]       204 (409 for a promoted shadow without ?promoted=kill)
 *   GET    /v1/shadows/:id/disk-digest?chunk=N   DiskDigest (the target's bytes; N default 1 MiB)
 *   POST   /v1/shadows/:id/rehearse              RehearseRequest -> RehearsalResult
 *   POST   /v1/shadows/:id/promote               PromoteRequest -> PromoteResult
 *   POST   /v1/shadows/:id/incoming              IncomingRequest -> IncomingReply
 *   POST   /v1/shadows/:id/resume                ResumeRequest -> ResumeResult
 */
import { incomingRequestSchema, promoteRequestSchema, rehearseRequestSchema, resumeRequestSchema, shadowSpecSchema, type ShadowSpec } from '../../api/shadow-protocol.js';
import { DEFAULT_DIGEST_CHUNK } from '../../storage/driver.js';
import { MAX_DIGEST_CHUNK, MIN_DIGEST_CHUNK, validChunkBytes } from '../../storage/digest.js';
import { readJson, type AgentRoutes } from '../api.js';
import { HttpError } from '../http-errors.js';
import { ShadowRequestInvalidError } from './errors.js';
import type { RehearseOptions, ShadowManager } from './shadow-manager.js';

const ID = '([a-z0-9][a-z0-9-]{0,62})';
const ONE = new RegExp(`^/v1/shadows/${ID}$`);
const SUB = new RegExp(`^/v1/shadows/${ID}/(disk-digest|rehearse|promote|incoming|resume)$`);

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

/** A body parsed with `schema` (defaults filled; an empty body is `{}`), every invalid field listed. */
export function parseBody<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } } }, body: unknown, id: string): T {
  const r = schema.safeParse(body ?? {});
  if (!r.success) throw new ShadowRequestInvalidError(issuesOf(r.error), id);
  return r.data;
}

/** The `promoted` query parameter of DELETE: `kill` allows deleting a promoted shadow (its VM is killed). */
export function parseKillPromoted(query: URLSearchParams, id: string): boolean {
  const v = query.get('promoted');
  if (v === null) return false;
  if (v !== 'kill') throw new ShadowRequestInvalidError([{ path: 'promoted', message: 'the only value is "kill"' }], id);
  return true;
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
        await m.delete(id, { killPromoted: parseKillPromoted(query, id) });
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
      const body = await readJson(req);
      if (op === 'promote') return { status: 200, body: await m.promote(id, parseBody(promoteRequestSchema, body, id)) };
      if (op === 'incoming') return { status: 200, body: await m.incoming(id, parseBody(incomingRequestSchema, body, id)) };
      if (op === 'resume') return { status: 200, body: await m.resume(id, parseBody(resumeRequestSchema, body, id)) };
      return { status: 200, body: await m.rehearse(id, parseRehearse(body, id)) };
    }
    if (path.startsWith('/v1/shadows/')) throw new HttpError(404, 'NOT_FOUND', `no route ${method} ${path}`);
    return null;
  };
}
