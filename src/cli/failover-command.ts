/**
 * `umbra failover VM [--dry-run]` (a failover now, through the server) and `umbra events` (the
 * persisted event log: every failover step with its time, reason and data-loss bound, shadow and
 * VM changes, alerts).
 */
import type { ManualFailoverResult } from '../failover/controller.js';
import type { EventRow } from '../store/store.js';
import { EXIT } from './exit-codes.js';
import { client, print, type ShadowCommandArgs } from './shadow-command.js';
import type { StatusCommandIO } from './status-command.js';

/** One event as a line: time, kind, VM, the data that matters. Pure. */
export function renderEvent(e: EventRow): string {
  const t = new Date(e.t).toISOString().replace('T', ' ').replace('Z', '');
  const d = e.data;
  const fields = Object.entries(d)
    .filter(([, v]) => v !== null && v !== undefined && typeof v !== 'object')
    .map(([k, v]) => `${k}=${typeof v === 'string' && /\s/.test(v) ? JSON.stringify(v) : String(v)}`)
    .join(' ');
  return `${t}  ${e.kind.padEnd(18)} ${(e.vmId ?? '-').padEnd(8)} ${fields}`;
}

/** What a manual failover did, in words. Pure. */
export function renderFailover(r: ManualFailoverResult): string {
  const d = r.decision;
  if (d.kind === 'none') return `no failover of ${d.vmId}: ${d.why}\n`;
  if (d.kind === 'blocked') return `failover of ${d.vmId} held: ${d.why}\n`;
  const head = `${r.dryRun ? 'would fail over' : 'failover of'} ${d.vmId}: ${d.path} to ${d.shadowId} on ${d.toHost}, data-loss bound ${d.dataLossBoundSeconds} s`;
  if (r.dryRun || !r.failover) return `${head}\n`;
  const f = r.failover;
  const steps = f.steps.map((s) => `  ${s.ok ? 'ok  ' : s.ok === false ? 'FAIL' : '... '} ${s.name.padEnd(16)} ${s.endedAt !== null ? `${s.endedAt - s.startedAt} ms` : ''}  ${s.detail}`);
  return [`${head}: ${f.state}${f.endedAt !== null ? ` in ${f.endedAt - f.startedAt} ms` : ''}`, ...steps].join('\n') + '\n';
}

/** `umbra failover VM [--dry-run]`: exit 0 when it happened (or would), 1 when held or failed. */
export async function failoverCommand(vmId: string, args: ShadowCommandArgs & { dryRun?: boolean }, io: StatusCommandIO): Promise<number> {
  const api = await client(args, io, 600_000);
  const r = await api.request<ManualFailoverResult>('POST', `/v1/vms/${encodeURIComponent(vmId)}/failover`, { dryRun: Boolean(args.dryRun) });
  print(io, args.json, r, () => renderFailover(r));
  const ok = r.decision.kind === 'failover' && (r.dryRun || r.failover?.state === 'done');
  return ok ? EXIT.OK : EXIT.FAILURE;
}

/** `umbra events [--vm VM] [--kind K] [--after SEQ] [--limit N]`. */
export async function eventsCommand(args: ShadowCommandArgs & { vm?: string; kind?: string; after?: string; limit?: string }, io: StatusCommandIO): Promise<number> {
  const q = new URLSearchParams({
    ...(args.vm ? { vm: args.vm } : {}),
    ...(args.kind ? { kind: args.kind } : {}),
    ...(args.after ? { after: args.after } : {}),
    limit: args.limit ?? '1000',
  }).toString();
  const r = await (await client(args, io)).request<{ events: EventRow[] }>('GET', `/v1/events?${q}`);
  print(io, args.json, r, () => (r.events.length ? r.events.map(renderEvent).join('\n') + '\n' : 'no events\n'));
  return EXIT.OK;
}
