/**
 * `umbra server`: runs the control plane until SIGTERM/SIGINT. Prints one JSON line on stdout
 * once it listens: `{"url","dataDir","pid","tokenSource","tokenFile"}`, plus `"token"` when it
 * generated one (the only time the token is ever printed); logs (pino JSON lines) go to stderr.
 */
import { waitForStop } from '../core/signals.js';
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { systemClock, type Clock } from '../core/clock.js';
import { parseDuration } from '../core/duration.js';
import { UsageError } from '../core/errors.js';
import type { IO } from './commands.js';
import { EXIT } from './exit-codes.js';
import { parseListen } from './agent-command.js';

/** Options of `umbra server` (strings as given on the command line). */
export interface ServerCommandArgs {
  /** `ADDR:PORT` (default 127.0.0.1:7000). */
  listen?: string;
  /** Data dir: the SQLite file and the token file (default $UMBRA_DATA_DIR or ~/.local/state/umbra/server). */
  dataDir?: string;
  /** Bearer token (default $UMBRA_TOKEN, else the data dir's token file, else a new one). */
  token?: string;
  /** Policy file (its forecast section drives the profiler; its traffic section, the failover's traffic switch). */
  policy?: string;
  /**
   * HAProxy admin socket: the failover controller switches each VM's traffic there (service = VM
   * id). Overrides the policy's `traffic.haproxy.socket`; its `traffic.dns` still applies.
   */
  haproxySocket?: string;
  /** Guest kernel and initramfs for VMs (default $UMBRA_KERNEL / $UMBRA_INITRD, else `umbra image build`'s cache). */
  kernel?: string;
  initrd?: string;
  /** Agent lease (default 15s). */
  lease?: string;
  /** How long raw samples are kept before 5-minute averaging (default 7d). */
  retentionRaw?: string;
  /** How long 5-minute averages are kept (default 35d). */
  retentionDownsampled?: string;
  /** Log level (default info). */
  logLevel?: string;
}

/** Extra hooks for tests and the lab: stop without a process signal, another environment or clock. */
export interface ServerCommandIO extends IO {
  /** Stops the server like SIGTERM. */
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  clock?: Clock;
}

/** The default port of `umbra server`. */
export const DEFAULT_SERVER_PORT = 7000;

/** The data dir: the flag, else $UMBRA_DATA_DIR, else $XDG_STATE_HOME/umbra/server (~/.local/state/umbra/server). */
export function resolveDataDir(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag) return flag;
  if (env.UMBRA_DATA_DIR) return env.UMBRA_DATA_DIR;
  return join(env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state'), 'umbra', 'server');
}

/**
 * Runs `umbra server` until SIGTERM/SIGINT (or `io.signal`); resolves with the exit status.
 * Usage errors throw UsageError, an invalid policy ConfigInvalidError (exit 2 either way).
 */
export async function serverCommand(args: ServerCommandArgs, io: ServerCommandIO): Promise<number> {
  const env = io.env ?? process.env;
  const clock = io.clock ?? systemClock;
  const listen = parseListen(args.listen, '127.0.0.1', DEFAULT_SERVER_PORT);
  const leaseMs = parseDuration(args.lease ?? '15s', '--lease') * 1000;
  const retention = {
    rawSeconds: parseDuration(args.retentionRaw ?? '7d', '--retention-raw'),
    bucketSeconds: 300,
    downsampledSeconds: parseDuration(args.retentionDownsampled ?? '35d', '--retention-downsampled'),
  };
  if (retention.downsampledSeconds < retention.rawSeconds) throw new UsageError('--retention-downsampled must not be shorter than --retention-raw');
  const kernel = args.kernel ?? env.UMBRA_KERNEL;
  const initrd = args.initrd ?? env.UMBRA_INITRD;
  if (Boolean(kernel) !== Boolean(initrd)) throw new UsageError('--kernel and --initrd go together (or set both UMBRA_KERNEL and UMBRA_INITRD)');

  const { parseConfigText, requireConfigFile } = await import('../config/index.js');
  const defaults = parseConfigText('');
  if (!defaults.ok) throw new UsageError('the built-in policy defaults do not validate'); // cannot happen: a test guards it
  const config = args.policy ? requireConfigFile(args.policy) : defaults.config;

  const dataDir = resolveDataDir(args.dataDir, env);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const { resolveServerToken, startServer, createServerLogger } = await import('../server/index.js');
  const { openSqliteStore } = await import('../store/index.js');
  const token = resolveServerToken({ flag: args.token, env: env.UMBRA_TOKEN, dataDir });

  const log = createServerLogger({ level: args.logLevel ?? 'info', write: (s) => io.stderr(s) });
  const store = openSqliteStore({ path: join(dataDir, 'umbra.db'), now: clock.now() });

  let image: Promise<{ kernel: string; initrd: string }> | null = null;
  const resolveImage = () =>
    (image ??= (async () => {
      if (kernel && initrd) return { kernel, initrd };
      log.info({}, 'no --kernel/--initrd: using the guest image cache (building it if needed)');
      const { buildImage } = await import('../guest/index.js');
      const built = await buildImage({});
      return { kernel: built.kernel, initrd: built.initrd };
    })().catch((e: unknown) => {
      image = null; // try again at the next VM
      throw e;
    }));

  // Traffic: the policy's `traffic:` block (HAProxy, DNS, or both), --haproxy-socket overriding
  // its HAProxy socket. Built before the store is used so a bad secret file fails the start.
  const { planTrafficDrivers, describeTrafficDrivers, buildTrafficSwitch } = await import('../traffic/from-config.js');
  const trafficPlan = planTrafficDrivers(config.traffic, { haproxySocket: args.haproxySocket });
  let traffic: import('../traffic/switch.js').TrafficSwitch | undefined;
  try {
    traffic = buildTrafficSwitch(trafficPlan, { policyFile: args.policy, clock });
  } catch (e) {
    await store.close();
    throw e;
  }
  if (traffic) log.info({ switch: traffic.name, drivers: describeTrafficDrivers(trafficPlan) }, 'traffic switch');

  const f = config.forecast;
  const models = f.models?.filter((m) => m !== 'lstm');
  const server = await startServer({
    store,
    clock,
    token: token.token,
    host: listen.host,
    port: listen.port,
    log,
    image: resolveImage,
    leaseMs,
    retention,
    config,
    ...(traffic ? { traffic } : {}),
    profileMs: f.schedule * 1000,
    profiler: {
      horizons: f.horizons,
      levels: f.levels,
      // The recurrent network is not run by the server's profiler (it would load TensorFlow).
      ...(models?.length ? { models } : {}),
      historySeconds: f.history,
    },
  }).catch(async (e: unknown) => {
    await store.close();
    throw e;
  });
  io.stdout(
    JSON.stringify({
      url: server.url,
      dataDir,
      pid: process.pid,
      tokenSource: token.source,
      ...(token.file ? { tokenFile: token.file } : {}),
      ...(token.source === 'generated' ? { token: token.token } : {}),
    }) + '\n',
  );

  await waitForStop(io.signal, (sig) => log.info({ signal: sig }, 'stopping'));
  await server.close();
  return EXIT.OK;
}
