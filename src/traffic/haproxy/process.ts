/**
 * Running HAProxy for the tests and the lab: writes the config rendered by config.ts into its
 * directory and starts `haproxy -f CFG -db` (foreground) as a recorded daemon, ready once the
 * admin socket answers.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, type Daemon } from '../daemon.js';
import { renderHaproxyConfig, type HaproxyConfigOptions } from './config.js';
import { runtimeCommand } from './runtime.js';

export interface HaproxyProcessOptions {
  /** HAProxy's directory: config, pid file and log go here (the socket path is in `config`). */
  dir: string;
  config: HaproxyConfigOptions;
  /** Default `haproxy` (on PATH). */
  binary?: string;
  readyTimeoutMs?: number;
}

/** A running HAProxy. */
export interface HaproxyProcess {
  daemon: Daemon;
  configPath: string;
  socketPath: string;
}

/** Writes `<dir>/haproxy.cfg` and starts HAProxy; rejects with TrafficStartError (and its log) when it does not come up. */
export async function startHaproxy(o: HaproxyProcessOptions): Promise<HaproxyProcess> {
  const configPath = join(o.dir, 'haproxy.cfg');
  writeFileSync(configPath, renderHaproxyConfig(o.config));
  const socketPath = o.config.socketPath;
  const daemon = await startDaemon({
    name: 'haproxy',
    argv: [o.binary ?? 'haproxy', '-f', configPath, '-db'],
    dir: o.dir,
    readyTimeoutMs: o.readyTimeoutMs,
    ready: async () => (await runtimeCommand(socketPath, 'show info', { timeoutMs: 500 })).includes('Name: HAProxy'),
  });
  return { daemon, configPath, socketPath };
}
