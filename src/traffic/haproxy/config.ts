/**
 * A minimal haproxy.cfg for Umbra's services: per service, a frontend on ADDR:PORT and a
 * backend with ONE server slot named `active`, which the driver re-points at runtime. Used by
 * the integration tests and the lab. Pure: renders text, validates every field first.
 *
 * Runtime changes are lost when HAProxy reloads; that is fine because the failover controller
 * re-applies the route on every pass (set `stateFile` to keep them over a reload anyway).
 */
import { isIP } from 'node:net';
import { TrafficRequestInvalidError } from '../errors.js';
import { backendProblems, serviceProblems, type Backend } from '../switch.js';

/** The proxy and server names the config gives a service (the driver addresses them so). */
export function haproxyNames(service: string): { frontend: string; backend: string; server: string } {
  return { frontend: `fe_${service}`, backend: `be_${service}`, server: 'active' };
}

/** One service behind HAProxy. */
export interface HaproxyServiceConfig {
  service: string;
  /** Where clients connect. */
  listen: { host: string; port: number };
  /** Where traffic goes at start; null: the slot starts in maintenance until the first ensure. */
  backend: Backend | null;
  /** HTTP health check path (`option httpchk GET PATH`); null: a TCP connect check. Default `/health`. */
  healthPath?: string | null;
}

export interface HaproxyConfigOptions {
  /** The admin socket the driver talks to (< 108 bytes). */
  socketPath: string;
  services: readonly HaproxyServiceConfig[];
  /** Timeouts in ms: connect (default 500), client and server (default 30 000). */
  timeouts?: { connectMs?: number; clientMs?: number; serverMs?: number; checkMs?: number };
  /** Health checks: interval (default 500 ms; 250 ms while failing), failures to go down (2), successes to go up (1). */
  check?: { interMs?: number; fall?: number; rise?: number };
  /** Connection retries before a request fails (default 3), then redispatch. */
  retries?: number;
  /** Worker threads (default 1: the lab machine has 2 cores). */
  threads?: number;
  /** A server-state-file that keeps runtime changes over a reload (written by the caller). */
  stateFile?: string;
}

const PATH_RE = /^\/[A-Za-z0-9._~/%-]*$/;
const FILE_RE = /^\/[A-Za-z0-9._/-]+$/;

/** Every problem of the options (empty when valid). */
export function haproxyConfigProblems(o: HaproxyConfigOptions): string[] {
  const p: string[] = [];
  if (!FILE_RE.test(o.socketPath)) p.push(`socketPath ${JSON.stringify(o.socketPath)}: must be an absolute path of [A-Za-z0-9._/-]`);
  else if (Buffer.byteLength(o.socketPath) >= 108) p.push(`socketPath: ${Buffer.byteLength(o.socketPath)} bytes, unix socket paths must be < 108`);
  if (o.stateFile !== undefined && !FILE_RE.test(o.stateFile)) p.push(`stateFile ${JSON.stringify(o.stateFile)}: must be an absolute path of [A-Za-z0-9._/-]`);
  if (!o.services.length) p.push('services: at least one');
  const seen = new Set<string>();
  const listens = new Set<string>();
  o.services.forEach((s, i) => {
    const at = `services[${i}]`;
    p.push(...serviceProblems(s.service).map((m) => `${at}.${m}`));
    if (seen.has(s.service)) p.push(`${at}.service ${s.service}: duplicate`);
    seen.add(s.service);
    if (!isIP(s.listen?.host ?? '')) p.push(`${at}.listen.host ${JSON.stringify(s.listen?.host)}: must be an IP address`);
    if (!Number.isInteger(s.listen?.port) || s.listen.port < 1 || s.listen.port > 65_535) p.push(`${at}.listen.port ${JSON.stringify(s.listen?.port)}: must be in 1..65535`);
    const key = `${s.listen?.host}:${s.listen?.port}`;
    if (listens.has(key)) p.push(`${at}.listen ${key}: used twice`);
    listens.add(key);
    if (s.backend) p.push(...backendProblems(s.backend, { ipv6: true }).map((m) => `${at}.${m}`));
    if (s.healthPath != null && !PATH_RE.test(s.healthPath)) p.push(`${at}.healthPath ${JSON.stringify(s.healthPath)}: must be a plain absolute URL path`);
  });
  const positive = (name: string, v: number | undefined) => {
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) p.push(`${name} ${v}: must be a positive integer`);
  };
  positive('timeouts.connectMs', o.timeouts?.connectMs);
  positive('timeouts.clientMs', o.timeouts?.clientMs);
  positive('timeouts.serverMs', o.timeouts?.serverMs);
  positive('timeouts.checkMs', o.timeouts?.checkMs);
  positive('check.interMs', o.check?.interMs);
  positive('check.fall', o.check?.fall);
  positive('check.rise', o.check?.rise);
  positive('threads', o.threads);
  if (o.retries !== undefined && (!Number.isInteger(o.retries) || o.retries < 0)) p.push(`retries ${o.retries}: must be an integer >= 0`);
  return p;
}

const addr = (host: string, port: number) => (isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`);

/** The haproxy.cfg text; throws {@link TrafficRequestInvalidError} listing every invalid field. */
export function renderHaproxyConfig(o: HaproxyConfigOptions): string {
  const problems = haproxyConfigProblems(o);
  if (problems.length) throw new TrafficRequestInvalidError(problems, { driver: 'haproxy', op: 'config' });
  const t = { connectMs: 500, clientMs: 30_000, serverMs: 30_000, checkMs: 1000, ...o.timeouts };
  const c = { interMs: 500, fall: 2, rise: 1, ...o.check };
  const lines = [
    '# Generated by Umbra (src/traffic/haproxy/config.ts). The `active` server of each backend is',
    '# re-pointed at runtime through the admin socket; do not edit by hand.',
    'global',
    `  nbthread ${o.threads ?? 1}`,
    `  stats socket ${o.socketPath} level admin mode 600`,
    '  stats timeout 10s',
    ...(o.stateFile ? [`  server-state-file ${o.stateFile}`] : []),
    '',
    'defaults',
    '  mode http',
    `  timeout connect ${t.connectMs}ms`,
    `  timeout client ${t.clientMs}ms`,
    `  timeout server ${t.serverMs}ms`,
    `  timeout check ${t.checkMs}ms`,
    // A request whose connection failed is retried, on another server where there is one.
    `  retries ${o.retries ?? 3}`,
    '  option redispatch',
    ...(o.stateFile ? ['  load-server-state-from-file global'] : []),
  ];
  for (const s of o.services) {
    const n = haproxyNames(s.service);
    const path = s.healthPath === undefined ? '/health' : s.healthPath;
    const target = s.backend ? addr(s.backend.host, s.backend.port) : '127.0.0.1:1';
    lines.push(
      '',
      `frontend ${n.frontend}`,
      `  bind ${addr(s.listen.host, s.listen.port)}`,
      `  default_backend ${n.backend}`,
      '',
      `backend ${n.backend}`,
      ...(path !== null ? [`  option httpchk GET ${path}`, '  http-check expect status 200'] : []),
      `  default-server inter ${c.interMs}ms fastinter ${Math.min(250, c.interMs)}ms downinter ${Math.min(250, c.interMs)}ms fall ${c.fall} rise ${c.rise}`,
      `  server ${n.server} ${target} check${s.backend ? '' : ' disabled'}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
