/**
 * `umbra shadow list|status|explain|verify|rehearse|resync|protect` and `umbra alerts`: the
 * shadow manager as the server sees it (through its API only). Every command prints a table or
 * text, or the server's JSON with `--json`.
 */
import type { VmRecord } from '../api/protocol.js';
import type { RehearsalResult, ReplicationStatus } from '../api/shadow-protocol.js';
import { UsageError } from '../core/errors.js';
import type { ServerApiClient } from '../server/client.js';
import type { ShadowView } from '../server/shadow-routes.js';
import type { VerifyResult } from '../shadow/reconciler.js';
import type { AlertRow } from '../store/store.js';
import type { IO } from './commands.js';
import { EXIT } from './exit-codes.js';
import { resolveServerTarget, table, type StatusCommandIO } from './status-command.js';

/** Flags every shadow command takes. */
export interface ShadowCommandArgs {
  server?: string;
  token?: string;
  json?: boolean;
}

export async function client(args: ShadowCommandArgs, io: StatusCommandIO, timeoutMs = 30_000): Promise<ServerApiClient> {
  const { server, token } = resolveServerTarget(args, io.env ?? process.env);
  const { ServerApiClient } = await import('../server/client.js');
  return new ServerApiClient({ baseUrl: server, token, timeoutMs });
}

/** Bytes as B/KiB/MiB/GiB. Pure. */
export function bytes(n: number | null): string {
  if (n === null) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${(s / 3600).toFixed(1)}h`;
}

/** `umbra shadow list` as a table. Pure. */
export function renderShadowList(shadows: readonly ShadowView[], now: number): string {
  if (!shadows.length) return 'no shadows\n';
  return table(
    ['SHADOW', 'VM', 'HOST', 'FLAVOR', 'MODE', 'SYNC', 'PROGRESS', 'LAG', 'PID', 'AGE'],
    shadows.map((s) => [
      s.id,
      s.vmId,
      s.host,
      s.flavor,
      s.mode,
      s.phase === 'retiring' ? `${s.status.sync} (retiring)` : s.status.sync,
      s.status.progress === null ? '-' : `${Math.round(s.status.progress * 100)}%`,
      s.status.lagSeconds === null ? '-' : `${s.status.lagSeconds.toFixed(1)}s / ${bytes(s.status.lagBytes)}`,
      s.status.vm?.pid === null || s.status.vm?.pid === undefined ? '-' : String(s.status.vm.pid),
      age(now - s.createdAt),
    ]),
  );
}

/** One shadow in detail. Pure. */
export function renderShadow(s: ShadowView, now: number): string {
  const st = s.status;
  const lines = [
    `shadow ${s.id} of ${s.vmId} on ${s.host} (${s.flavor}, ${s.mode}${s.mode === 'periodic' ? ` every ${s.intervalSeconds}s` : ''})`,
    `  phase      ${s.phase}: ${s.reason}`,
    `  size       ${s.size.vcpus} vCPU, ${s.size.memoryMiB} MiB`,
    `  sync       ${st.sync} for ${age(now - st.syncSince)}${st.progress !== null && st.sync === 'syncing' ? ` (${Math.round(st.progress * 100)}%)` : ''}`,
    `  lag        ${st.lagSeconds === null ? '-' : `${st.lagSeconds.toFixed(2)} s, ${bytes(st.lagBytes)}`}`,
    `  target     ${st.target ? `nbd://${st.target.host}:${st.target.port}/${st.target.export}` : '-'}${st.targetPid ? ` (pid ${st.targetPid})` : ''}`,
    `  vm         ${st.vm ? `${st.vm.state}, pid ${st.vm.pid ?? '-'}, ${st.vm.endpoint ?? 'no endpoint'}` : '-'}`,
    `  first copy ${st.initialCopyBytesPerSec ? `${bytes(st.initialCopyBytesPerSec)}/s` : '-'}`,
    `  verified   ${st.verify ? `${st.verify.ok ? 'equal' : `DIFFERENT (${st.verify.mismatched.length} chunks)`} ${age(now - st.verify.at)} ago, pause ${st.verify.pauseMs} ms${st.verify.error ? ` (${st.verify.error})` : ''}` : 'not yet'}`,
    `  rehearsed  ${st.rehearsal ? `${st.rehearsal.ok ? 'ok' : 'FAILED'} ${age(now - st.rehearsal.at)} ago (${st.rehearsal.where}${st.rehearsal.timeToReadyMs !== null ? `, ready in ${st.rehearsal.timeToReadyMs} ms` : ''})${st.rehearsal.error ? `: ${st.rehearsal.error}` : ''}` : 'not yet'}`,
  ];
  if (st.error) lines.push(`  error      ${st.error}`);
  return lines.join('\n') + '\n';
}

/** `umbra alerts` as a table. Pure. */
export function renderAlerts(alerts: readonly AlertRow[], now: number): string {
  if (!alerts.length) return 'no alerts\n';
  return table(
    ['STATE', 'SEVERITY', 'KIND', 'VM', 'SINCE', 'SUMMARY'],
    alerts.map((a) => [a.state, a.severity, a.kind, a.vmId ?? '-', age(now - a.startsAt), a.summary]),
  );
}

/** A shadow id, or a VM id standing for its newest active shadow. */
async function resolveShadow(api: ServerApiClient, id: string): Promise<ShadowView> {
  const all = (await api.request<{ shadows: ShadowView[] }>('GET', '/v1/shadows')).shadows;
  const direct = all.find((s) => s.id === id);
  if (direct) return direct;
  const mine = all.filter((s) => s.vmId === id && s.phase === 'active').sort((a, b) => b.createdAt - a.createdAt);
  if (!mine.length) throw new UsageError(`no shadow or VM with a shadow called "${id}" (umbra shadow list shows them)`);
  return mine.find((s) => s.status.sync === 'synchronized') ?? mine[0];
}

export const now = (io: StatusCommandIO) => (io.now ?? (() => Date.now()))();
export const print = (io: IO, json: boolean | undefined, value: unknown, text: () => string) => io.stdout(json ? JSON.stringify(value, null, 2) + '\n' : text());

/** `umbra shadow list`. */
export async function shadowListCommand(args: ShadowCommandArgs, io: StatusCommandIO): Promise<number> {
  const r = await (await client(args, io)).request<{ shadows: ShadowView[] }>('GET', '/v1/shadows');
  print(io, args.json, r, () => renderShadowList(r.shadows, now(io)));
  return EXIT.OK;
}

/** `umbra shadow status [ID]`: one shadow (or a VM's), or every shadow in detail. */
export async function shadowStatusCommand(id: string | undefined, args: ShadowCommandArgs, io: StatusCommandIO): Promise<number> {
  const api = await client(args, io);
  if (id) {
    const s = await resolveShadow(api, id);
    print(io, args.json, s, () => renderShadow(s, now(io)));
  } else {
    const r = await api.request<{ shadows: ShadowView[] }>('GET', '/v1/shadows');
    print(io, args.json, r, () => (r.shadows.length ? r.shadows.map((s) => renderShadow(s, now(io))).join('\n') : 'no shadows\n'));
  }
  return EXIT.OK;
}

/** `umbra shadow explain VM`. */
export async function shadowExplainCommand(vmId: string, args: ShadowCommandArgs, io: StatusCommandIO): Promise<number> {
  const r = await (await client(args, io)).request<{ text: string }>('GET', `/v1/vms/${encodeURIComponent(vmId)}/explain`);
  print(io, args.json, r, () => (r.text.endsWith('\n') ? r.text : r.text + '\n'));
  return EXIT.OK;
}

/** `umbra shadow verify ID`: checksums of both sides now; exit 1 when they differ. */
export async function shadowVerifyCommand(id: string, args: ShadowCommandArgs, io: StatusCommandIO): Promise<number> {
  const api = await client(args, io, 120_000);
  const s = await resolveShadow(api, id);
  const r = await api.request<VerifyResult>('POST', `/v1/shadows/${encodeURIComponent(s.id)}/verify`, {});
  print(io, args.json, r, () =>
    r.ok
      ? `shadow ${r.shadowId} equals ${r.vmId}: ${r.chunks} chunks of ${bytes(r.chunkBytes)}, primary paused ${r.pauseMs} ms\n`
      : `shadow ${r.shadowId} DIFFERS from ${r.vmId} in ${r.mismatched.length} of ${r.chunks} chunks (first: ${r.mismatched.slice(0, 8).join(', ')})${r.error ? `: ${r.error}` : ''}; a resync was started\n`,
  );
  return r.ok ? EXIT.OK : EXIT.FAILURE;
}

/** `umbra shadow rehearse ID`: the warm-up now; exit 1 when it failed. */
export async function shadowRehearseCommand(id: string, args: ShadowCommandArgs, io: StatusCommandIO): Promise<number> {
  const api = await client(args, io, 300_000);
  const s = await resolveShadow(api, id);
  const r = await api.request<RehearsalResult>('POST', `/v1/shadows/${encodeURIComponent(s.id)}/rehearse`, {});
  print(io, args.json, r, () =>
    `rehearsal of ${r.shadowId} (${r.where}): ${r.ok ? 'ok' : 'FAILED'}${r.timeToReadyMs !== null ? `, copy ready in ${r.timeToReadyMs} ms` : ''}${r.task ? `, task ${r.task.ok ? 'ok' : 'failed'} in ${r.task.ms} ms` : ''}${r.error ? `: ${r.error}` : ''}\n`,
  );
  return r.ok ? EXIT.OK : EXIT.FAILURE;
}

/** `umbra shadow resync ID`: a new full copy. */
export async function shadowResyncCommand(id: string, args: ShadowCommandArgs, io: StatusCommandIO): Promise<number> {
  const api = await client(args, io);
  const s = await resolveShadow(api, id);
  const r = await api.request<ReplicationStatus>('POST', `/v1/shadows/${encodeURIComponent(s.id)}/resync`, {});
  print(io, args.json, r, () => `resync of ${s.id} started: generation ${r.generation}, ${r.state}\n`);
  return EXIT.OK;
}

/** `umbra shadow protect VM [--off]`. */
export async function shadowProtectCommand(vmId: string, args: ShadowCommandArgs & { off?: boolean }, io: StatusCommandIO): Promise<number> {
  const r = await (await client(args, io)).request<VmRecord>('POST', `/v1/vms/${encodeURIComponent(vmId)}/protect`, { protect: !args.off });
  print(io, args.json, r, () => `${vmId}: ${args.off ? 'no longer forced: shadowed when its risk says so' : 'protected: it keeps a shadow whatever its risk'}\n`);
  return EXIT.OK;
}

/** `umbra alerts [--all] [--vm VM]`. */
export async function alertsCommand(args: ShadowCommandArgs & { all?: boolean; vm?: string }, io: StatusCommandIO): Promise<number> {
  const q = new URLSearchParams({ ...(args.all ? { all: 'true' } : {}), ...(args.vm ? { vm: args.vm } : {}) }).toString();
  const r = await (await client(args, io)).request<{ alerts: AlertRow[] }>('GET', `/v1/alerts${q ? `?${q}` : ''}`);
  print(io, args.json, r, () => renderAlerts(r.alerts, now(io)));
  return EXIT.OK;
}
