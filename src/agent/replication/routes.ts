/**
 * The primary-side replication routes of the agent API (src/api/shadow-protocol.ts), as an
 * {@link AgentRoutes} group for `startAgentApi({ routes })`:
 *
 *   PUT    /v1/vms/:id/replication          ReplicationSpec -> ReplicationStatus
 *   GET    /v1/vms/:id/replication          -> ReplicationStatus (404 NOT_FOUND when none)
 *   DELETE /v1/vms/:id/replication          -> 204
 *   POST   /v1/vms/:id/replication/resync   -> ReplicationStatus
 *   POST   /v1/vms/:id/quiesce              QuiesceRequest -> QuiesceReply
 *   POST   /v1/vms/:id/unquiesce            -> { pauseMs }
 *   GET    /v1/vms/:id/disk-digest?chunk=N  -> DiskDigest
 */
import { readJson, type AgentRoutes } from '../api.js';
import { HttpError } from '../http-errors.js';
import { DEFAULT_CHUNK_BYTES, MAX_CHUNK_BYTES, MIN_CHUNK_BYTES } from './digest.js';
import { ReplicationRequestInvalidError } from './errors.js';
import type { ReplicationManager } from './manager.js';

const ID = '([a-z0-9][a-z0-9-]{0,62})';
const ROUTE = new RegExp(`^/v1/vms/${ID}/(replication|replication/resync|quiesce|unquiesce|disk-digest)$`);

/** The `chunk` query parameter: a whole number of bytes within bounds (default 1 MiB). Pure. */
export function parseChunk(raw: string | null, vmId: string): number {
  if (raw === null || raw === '') return DEFAULT_CHUNK_BYTES;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < MIN_CHUNK_BYTES || n > MAX_CHUNK_BYTES) {
    throw new ReplicationRequestInvalidError('disk-digest query', [{ path: 'chunk', message: `must be a whole number of bytes from ${MIN_CHUNK_BYTES} to ${MAX_CHUNK_BYTES}` }], vmId);
  }
  return n;
}

/** The routes over a {@link ReplicationManager}. */
export function replicationRoutes(manager: ReplicationManager): AgentRoutes {
  return async (method, path, req, query) => {
    const m = ROUTE.exec(path);
    if (!m) return null;
    const [, id, what] = m;
    const need = (want: string) => {
      if (method !== want) throw new HttpError(405, 'METHOD_NOT_ALLOWED', want);
    };
    switch (what) {
      case 'replication':
        if (method === 'PUT') return { status: 200, body: await manager.ensure(id, await readJson(req)) };
        if (method === 'GET') return { status: 200, body: await manager.get(id) };
        if (method === 'DELETE') {
          await manager.remove(id);
          return { status: 204, body: null };
        }
        throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'GET, PUT or DELETE');
      case 'replication/resync':
        need('POST');
        return { status: 200, body: await manager.resync(id) };
      case 'quiesce':
        need('POST');
        return { status: 200, body: await manager.quiesce(id, await readJson(req)) };
      case 'unquiesce':
        need('POST');
        return { status: 200, body: await manager.unquiesce(id) };
      default:
        need('GET');
        return { status: 200, body: await manager.diskDigest(id, parseChunk(query.get('chunk'), id)) };
    }
  };
}
