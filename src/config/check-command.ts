import { formatDuration } from '../core/duration.js';
import { formatConfigIssues } from './format.js';
import { loadConfigFile, type ConfigLoadResult } from './load.js';
import type { UmbraConfig } from './schema.js';

/** What `umbra config check` prints and exits with. */
export interface CommandOutcome {
  /** 0 when the file is valid, 2 when it is not (or cannot be read). */
  exitCode: 0 | 2;
  /** Text for stdout (valid) or stderr (invalid); JSON when asked. Ends without a newline. */
  output: string;
}

function dur(seconds: number): string {
  if (seconds === 0) return '0';
  if (seconds % 86400 === 0 && seconds >= 2 * 86400) return `${seconds / 86400}d`;
  return formatDuration(seconds);
}

function limit(v: number | undefined, unit: string): string {
  return v === undefined ? `no ${unit} limit` : `${v} ${unit}`;
}

/** A few lines that say what the file configures, for a person checking it. */
export function summarizeConfig(config: UmbraConfig): string[] {
  const f = config.forecast;
  const p = config.policies;
  const b = config.budgets;
  const groups = p.groups.length ? `${p.groups.length} group(s): ${p.groups.map((g) => g.name).join(', ')}` : 'no groups';
  return [
    `  forecast: horizons ${f.horizons.map(dur).join(', ')}; levels ${f.levels.join(', ')} %; history ${dur(f.history)}; every ${dur(f.schedule)}; models ${f.models ? f.models.join(', ') : 'all'}${f.lstm ? ' + lstm' : ''}`,
    `  policies: shadow threshold ${p.shadow_creation_threshold}; ${p.shadow_flavor} shadows; sync ${p.synchronization_mode}${p.synchronization_mode === 'periodic' ? ` every ${dur(p.synchronization_interval)}` : ''}; max data loss ${dur(p.max_data_loss)}; ${groups}`,
    `  failover: ${p.failover_criteria}`,
    `  budgets: total ${limit(b.total.cores, 'cores')}, ${limit(b.total.memory_gib, 'GiB')}; per host ${limit(b.per_host.cores, 'cores')}, ${limit(b.per_host.memory_gib, 'GiB')}`,
    ...trafficSummary(config.traffic),
  ];
}

/** The `traffic:` line, when a switch is configured (the TSIG secret is never shown, its file is). */
function trafficSummary(t: UmbraConfig['traffic']): string[] {
  const parts: string[] = [];
  if (t.haproxy) parts.push(`HAProxy socket ${t.haproxy.socket}`);
  if (t.dns) {
    const d = t.dns;
    const server = d.server.host.includes(':') ? `[${d.server.host}]:${d.server.port}` : `${d.server.host}:${d.server.port}`;
    parts.push(`DNS zone ${d.zone} at ${server}, ttl ${d.ttl}s, key ${d.tsig.name} (${d.tsig.algorithm}) from ${d.tsig.secret_file}`);
  }
  return parts.length ? [`  traffic: ${parts.join(' + ')}`] : [];
}

/** Builds the outcome from a load result (pure; see {@link configCheckCommand}). */
export function checkOutcome(file: string, result: ConfigLoadResult, opts: { json?: boolean } = {}): CommandOutcome {
  if (opts.json) {
    const doc = result.ok ? { file, valid: true, config: result.config } : { file, valid: false, errors: result.errors };
    return { exitCode: result.ok ? 0 : 2, output: JSON.stringify(doc, null, 2) };
  }
  if (result.ok) return { exitCode: 0, output: [`${file}: valid`, ...summarizeConfig(result.config)].join('\n') };
  const n = result.errors.length;
  return {
    exitCode: 2,
    output: [...formatConfigIssues(file, result.errors), `${file}: ${n} problem${n === 1 ? '' : 's'}`].join('\n'),
  };
}

/**
 * `umbra config check FILE [--json]`: exit 0 and a short summary when the file is valid, exit 2
 * and every issue (one `file:line:col path: message` line each) when it is not.
 */
export function configCheckCommand(file: string, opts: { json?: boolean } = {}): CommandOutcome {
  return checkOutcome(file, loadConfigFile(file), opts);
}
