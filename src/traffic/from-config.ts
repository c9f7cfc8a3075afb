/**
 * The server's traffic switch, from the policy file's `traffic:` block and `--haproxy-socket`:
 * none, HAProxy, DNS, or both behind the multi switch. A pure plan ({@link planTrafficDrivers})
 * says which drivers; a thin build step ({@link buildTrafficSwitch}) reads the TSIG secret and
 * constructs them.
 *
 * `--haproxy-socket` and `traffic.haproxy.socket` both set: the flag wins (a command line
 * overrides a file), and `traffic.dns` still applies.
 */
import { readFileSync } from 'node:fs';
import { ConfigInvalidError } from '../config/config-error.js';
import type { TrafficConfig } from '../config/schema.js';
import { TSIG_SECRET_FIELD, readTsigSecret, type ReadFile } from '../config/traffic-files.js';
import type { Clock } from '../core/clock.js';
import { DnsTrafficSwitch } from './dns/dns-switch.js';
import type { DnsServer } from './dns/transport.js';
import type { TsigAlgorithm } from './dns/tsig.js';
import { HaproxyTrafficSwitch } from './haproxy/haproxy-switch.js';
import { MultiTrafficSwitch } from './multi.js';
import type { TrafficSwitch } from './switch.js';

/** One driver the server runs, and where its settings came from. */
export type TrafficDriverSpec =
  | { kind: 'haproxy'; socket: string; source: 'flag' | 'config'; overrides?: string }
  | { kind: 'dns'; server: DnsServer; zone: string; ttl: number; tsig: { name: string; algorithm: TsigAlgorithm; secretFile: string } };

/**
 * The drivers for a config's `traffic:` block and the server's flags, HAProxy first (the multi
 * switch names its first failure, and the error-rate signal comes from HAProxy). Pure.
 * `overrides` is set when the flag replaced a socket from the file.
 */
export function planTrafficDrivers(traffic: TrafficConfig, flags: { haproxySocket?: string } = {}): TrafficDriverSpec[] {
  const out: TrafficDriverSpec[] = [];
  if (flags.haproxySocket) {
    out.push({ kind: 'haproxy', socket: flags.haproxySocket, source: 'flag', ...(traffic.haproxy ? { overrides: traffic.haproxy.socket } : {}) });
  } else if (traffic.haproxy) {
    out.push({ kind: 'haproxy', socket: traffic.haproxy.socket, source: 'config' });
  }
  if (traffic.dns) {
    const d = traffic.dns;
    out.push({ kind: 'dns', server: { ...d.server }, zone: d.zone, ttl: d.ttl, tsig: { name: d.tsig.name, algorithm: d.tsig.algorithm, secretFile: d.tsig.secret_file } });
  }
  return out;
}

/** Log fields of the plan (paths, addresses, key name: never the secret). Pure. */
export function describeTrafficDrivers(specs: readonly TrafficDriverSpec[]): Record<string, unknown>[] {
  return specs.map((s) =>
    s.kind === 'haproxy'
      ? { driver: 'haproxy', socket: s.socket, from: s.source === 'flag' ? '--haproxy-socket' : 'traffic.haproxy', ...(s.overrides ? { overrides: s.overrides } : {}) }
      : { driver: 'dns', server: `${s.server.host}:${s.server.port}`, zone: s.zone, ttl: s.ttl, key: s.tsig.name, algorithm: s.tsig.algorithm },
  );
}

/** What {@link buildTrafficSwitch} needs besides the plan. */
export interface BuildTrafficOptions {
  /** The policy file (named in the error when the TSIG secret cannot be read). */
  policyFile?: string;
  /** Default: node's readFileSync. */
  readFile?: ReadFile;
  clock?: Clock;
}

/**
 * The switch for a plan: undefined for no driver, the driver itself for one, a
 * {@link MultiTrafficSwitch} for several. Throws {@link ConfigInvalidError} (exit 2) naming
 * `traffic.dns.tsig.secret_file` when the secret cannot be read.
 */
export function buildTrafficSwitch(specs: readonly TrafficDriverSpec[], o: BuildTrafficOptions = {}): TrafficSwitch | undefined {
  const drivers = specs.map((s): TrafficSwitch => {
    if (s.kind === 'haproxy') return new HaproxyTrafficSwitch({ socketPath: s.socket });
    const r = readTsigSecret(s.tsig.secretFile, o.readFile ?? ((p) => readFileSync(p)));
    if (!r.ok) throw new ConfigInvalidError(o.policyFile ?? 'the policy file', [{ path: TSIG_SECRET_FIELD, message: r.message }]);
    return new DnsTrafficSwitch({
      server: s.server,
      zone: s.zone,
      ttl: s.ttl,
      key: { name: s.tsig.name, algorithm: s.tsig.algorithm, secret: r.secret },
      ...(o.clock ? { clock: o.clock } : {}),
    });
  });
  if (drivers.length === 0) return undefined;
  return drivers.length === 1 ? drivers[0] : new MultiTrafficSwitch(drivers);
}
