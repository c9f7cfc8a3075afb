/**
 * `umbra lab up|down|status`: the one-machine multi-host lab (src/lab). Needs root. State lives
 * in `--state-dir`, else $UMBRA_STATE_DIR, else ~/.local/state/umbra (`lab.json` there is what
 * `umbra status` reads). Progress goes to stderr; `--json` prints one JSON document on stdout.
 */
import { resolve } from 'node:path';
import { UsageError } from '../core/errors.js';
import type { IO } from './commands.js';
import { EXIT } from './exit-codes.js';
import { labStateDir } from './status-command.js';

/** Options of `umbra lab up|down|status` (strings as given on the command line). */
export interface LabCommandArgs {
  /** `up`: number of hosts (default 2). */
  hosts?: string;
  /** `up`: number of VMs (default 1). */
  vms?: string;
  /** `up`: the agents' sampling interval, e.g. `2s` (default: the agent's, 10s). */
  interval?: string;
  /** `up`: give every VM a shadow and wait until each is synchronized. */
  protect?: boolean;
  /** `up`: the server's policy file. */
  policy?: string;
  /** State dir (default $UMBRA_STATE_DIR or ~/.local/state/umbra). */
  stateDir?: string;
  json?: boolean;
  /** No progress on stderr. */
  quiet?: boolean;
}

/** Extra hooks for tests: another environment. */
export interface LabCommandIO extends IO {
  env?: NodeJS.ProcessEnv;
}

function count(text: string | undefined, dflt: number, flag: string): number {
  if (text === undefined) return dflt;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) throw new UsageError(`${flag}: expected a whole number, got "${text}"`);
  return n;
}

/** Runs `umbra lab <action>`; resolves with the exit status (errors propagate to the CLI's mapping). */
export async function labCommand(action: 'up' | 'down' | 'status', args: LabCommandArgs, io: LabCommandIO): Promise<number> {
  const env = io.env ?? process.env;
  const stateDir = args.stateDir ?? labStateDir(env);
  const progress = args.quiet ? undefined : (m: string) => io.stderr(`umbra lab: ${m}\n`);
  const lab = await import('../lab/index.js');
  if (action === 'up') {
    if (args.interval !== undefined) (await import('../core/duration.js')).parseDuration(args.interval, '--interval');
    let policy: string | undefined;
    if (args.policy !== undefined) {
      // Checked here (file:line errors, exit 2) rather than in the server's log.
      const { requireConfigFile } = await import('../config/index.js');
      requireConfigFile(args.policy);
      policy = resolve(args.policy);
    }
    const result = await lab.labUp({ hosts: count(args.hosts, 2, '--hosts'), vms: count(args.vms, 1, '--vms'), interval: args.interval, protect: args.protect, policy, stateDir, env, progress });
    if (args.json) io.stdout(JSON.stringify(result) + '\n');
    else {
      io.stdout(`server ${result.server}\n`);
      for (const h of result.hosts) io.stdout(`host ${h.name} ${h.address}\n`);
      for (const v of result.vms) io.stdout(`vm ${v.id} on ${v.host} pid ${v.pid ?? '-'} ${v.endpoint ?? '-'}${v.sync ? ` shadow ${v.sync}` : ''}\n`);
      io.stdout(`dns ${result.dns.server} zone ${result.dns.zone}${Object.values(result.dns.names).map((n) => ` ${n}`).join('')}\n`);
      for (const sh of result.shadows ?? []) io.stdout(`shadow ${sh.id} of ${sh.shadowOf} on ${sh.host} pid ${sh.pid ?? '-'} ${sh.flavor ?? ''} ${sh.mode ?? ''} ${sh.sync ?? '-'}\n`);
      io.stdout(`(token in ${lab.labPaths(stateDir).labJson}; umbra status reads it)\n`);
    }
    return EXIT.OK;
  }
  if (action === 'down') {
    const report = await lab.labDown({ stateDir, progress });
    if (args.json) io.stdout(JSON.stringify(report) + '\n');
    return EXIT.OK;
  }
  const report = await lab.labStatus(stateDir);
  io.stdout(args.json ? JSON.stringify(report, null, 2) + '\n' : lab.renderLabStatus(report));
  return EXIT.OK;
}
