/**
 * The command table: every `umbra` command is declared here (name, help, options) with a lazy
 * import of its handler, so `umbra --help` loads nothing heavy.
 */
import { Command, Option } from 'commander';

export interface IO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Builds the commander program; each action resolves to an exit status through `done`. */
export function buildProgram(io: IO, done: (p: Promise<number>) => void): Command {
  const program = new Command('umbra')
    .description('Predictive VM shadowing: forecast each VM\'s load, keep synchronized shadows ready, fail over in seconds.')
    .version(process.env.npm_package_version ?? '0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride();

  program
    .command('forecast')
    .description(
      'Forecast every metric of every input series with calibrated intervals.\n' +
        'Inputs: generic CSV (time + numeric columns), Bitbrains GWA-T-12, NAB, a saved Prometheus\n' +
        'query_range JSON, or a live Prometheus server. A directory means one series per file.',
    )
    .option('-i, --input <path>', 'input file or directory (repeatable)', collect)
    .option('--format <fmt>', 'output format json|table, or input format csv|bitbrains|nab|prometheus (repeatable)', collect)
    .option('--input-format <fmt>', 'force the input format (csv|bitbrains|nab|prometheus); default: detected')
    .option('--horizon <dur>', 'forecast horizon(s), e.g. 24h or 1h,6h,24h (default 1h,6h,24h; points go to the longest)')
    .option('--levels <list>', 'interval levels in percent (default 80,95)')
    .option('--metric <name>', 'only this metric (repeatable), e.g. cpu_mhz', collect)
    .option('--models <list>', 'candidate models (default: all enabled); see the README')
    .option('--lstm', 'also try the recurrent network (slow; off by default)')
    .option('--plot <dir>', 'write one SVG per series and metric into DIR')
    .option('--workers <n>', 'worker threads (default: cores; 0 = in-process)')
    .option('--config <file>', 'policy file: horizons, levels and models come from its forecast section')
    .option('--prometheus <url>', 'read from a live Prometheus server (with --query, --start, --end, --step)')
    .option('--query <promql>', 'PromQL query for --prometheus')
    .option('--start <time>', 'range start (epoch seconds or ISO 8601)')
    .option('--end <time>', 'range end (epoch seconds or ISO 8601)')
    .option('--step <dur>', 'range step (default 5m)')
    .addOption(new Option('--token <token>', 'bearer token for --prometheus').env('UMBRA_PROMETHEUS_TOKEN'))
    .option('--diagnostics', 'include seasonalities, backtest scores, regularization and resource forms in JSON')
    .option('--json', 'same as --format json')
    .option('-q, --quiet', 'no progress bar or notes on stderr')
    .addHelpText(
      'after',
      '\nExamples:\n  umbra forecast --input vm.csv --horizon 24h --levels 80,95 --format json\n  umbra forecast --input ../traces/ --metric cpu_mhz --plot plots/\n\nExit status: 0 all forecast; 3 some series failed (the others are still output); 2 usage error.',
    )
    .action((opts) =>
      done(
        (async () => {
          const { forecastCommand } = await import('./forecast-command.js');
          const defaults = opts.config ? await (await import('./config-defaults.js')).forecastDefaultsFromConfig(opts.config) : undefined;
          return forecastCommand(opts, { ...io, defaults });
        })(),
      ),
    );

  const config = program.command('config').description('Policy file tools');
  config
    .command('check <file>')
    .description('Validate a policy file; report every invalid field with its path and line (exit 2 when invalid)')
    .option('--json', 'machine-readable result')
    .action((file: string, opts: { json?: boolean }) =>
      done(
        (async () => {
          const { runConfigCheck } = await import('./config-command.js');
          return runConfigCheck(file, opts, io);
        })(),
      ),
    );

  const image = program.command('image').description('The lab guest image (kernel + initramfs with the lab service)');
  image
    .command('build')
    .description('Build the lab guest image from Debian packages (cached by content hash; installs QEMU and build tools when missing, as root)')
    .option('--json', 'print {kernel, initrd, hash, cached, kernelVersion, ...} as JSON')
    .option('--force', 'rebuild even when the cache has this image (also re-resolves Debian package versions)')
    .option('--cache-dir <dir>', 'image cache (default $UMBRA_CACHE/images or ~/.cache/umbra/images)')
    .option('-q, --quiet', 'no progress on stderr')
    .action((opts) =>
      done(
        (async () => {
          const { imageBuildCommand } = await import('./image-command.js');
          return imageBuildCommand(opts, io);
        })(),
      ),
    );

  program
    .command('server')
    .description(
      'Run the control plane: SQLite store, agent registration and leases, sample ingestion with\n' +
        'retention, VM placement, the scheduled profiler, and the REST API (bearer token on every route).',
    )
    .option('--listen <addr>', 'ADDR:PORT to listen on (default 127.0.0.1:7000)')
    .option('--data-dir <dir>', 'SQLite file and token file (default $UMBRA_DATA_DIR or ~/.local/state/umbra/server)')
    .addOption(new Option('--token <token>', 'bearer token (default: the data dir\'s token file, else a new one)').env('UMBRA_TOKEN'))
    .option('--policy <file>', 'policy file (its forecast section drives the profiler; its traffic section (HAProxy and/or DNS) is where failovers switch traffic)')
    .option('--haproxy-socket <path>', "HAProxy's admin socket: failovers switch each VM's traffic there (backend be_<vm>, server active); overrides the policy's traffic.haproxy.socket, its traffic.dns still applies")
    .option('--kernel <path>', 'guest kernel for VMs (default: the umbra image build cache)')
    .option('--initrd <path>', 'guest initramfs for VMs')
    .option('--lease <dur>', 'agent lease (default 15s)')
    .option('--retention-raw <dur>', 'raw samples kept before 5-minute averaging (default 7d)')
    .option('--retention-downsampled <dur>', '5-minute averages kept (default 35d)')
    .option('--log-level <level>', 'log level (default info)')
    .action((opts) =>
      done(
        (async () => {
          const { serverCommand } = await import('./server-command.js');
          return serverCommand(opts, io);
        })(),
      ),
    );

  program
    .command('status')
    .description('Show agents and VMs as the server sees them (server/token from flags, UMBRA_SERVER/UMBRA_TOKEN, or the lab state file)')
    .option('--server <url>', 'server base URL')
    .addOption(new Option('--token <token>', 'bearer token').env('UMBRA_TOKEN'))
    .option('--json', 'print the StatusReport JSON')
    .action((opts) =>
      done(
        (async () => {
          const { statusCommand } = await import('./status-command.js');
          return statusCommand(opts, io);
        })(),
      ),
    );

  const shadow = program
    .command('shadow')
    .description('Shadows: which VMs have one, where, how in sync, why (server/token as for status)');
  const serverFlags = (c: Command) =>
    c
      .option('--server <url>', 'server base URL')
      .addOption(new Option('--token <token>', 'bearer token').env('UMBRA_TOKEN'))
      .option('--json', 'print the JSON the server returned');
  const shadowAction =
    <A extends unknown[]>(name: string, run: (m: typeof import('./shadow-command.js'), ...args: A) => Promise<number>) =>
    (...args: A) =>
      done(
        (async () => {
          void name;
          return run(await import('./shadow-command.js'), ...args);
        })(),
      );
  serverFlags(shadow.command('list').description('Every shadow: VM, host, flavor, mode, sync state, progress, lag')).action(
    shadowAction('list', (m, opts: Record<string, unknown>) => m.shadowListCommand(opts, io)),
  );
  serverFlags(shadow.command('status [id]').description('One shadow in detail (a shadow id, or a VM id for its shadow); all when no id')).action(
    shadowAction('status', (m, id: string | undefined, opts: Record<string, unknown>) => m.shadowStatusCommand(id, opts, io)),
  );
  serverFlags(shadow.command('explain <vm>').description('The numbers behind the shadow decision of a VM: breach probabilities, health, weight, risk, budget, placement')).action(
    shadowAction('explain', (m, vm: string, opts: Record<string, unknown>) => m.shadowExplainCommand(vm, opts, io)),
  );
  serverFlags(shadow.command('verify <id>').description("Prove a shadow's disk equals its primary's now (brief pause, checksums); exit 1 when they differ")).action(
    shadowAction('verify', (m, id: string, opts: Record<string, unknown>) => m.shadowVerifyCommand(id, opts, io)),
  );
  serverFlags(shadow.command('rehearse <id>').description("Run the policy's warm-up now (in the warm shadow, or in a throwaway copy of a migrate shadow); exit 1 when it fails")).action(
    shadowAction('rehearse', (m, id: string, opts: Record<string, unknown>) => m.shadowRehearseCommand(id, opts, io)),
  );
  serverFlags(shadow.command('resync <id>').description('Start a new full copy to a shadow')).action(
    shadowAction('resync', (m, id: string, opts: Record<string, unknown>) => m.shadowResyncCommand(id, opts, io)),
  );
  serverFlags(shadow.command('protect <vm>').description('Keep a shadow of this VM whatever its risk (--off: back to risk-based)').option('--off', 'stop forcing a shadow')).action(
    shadowAction('protect', (m, vm: string, opts: Record<string, unknown>) => m.shadowProtectCommand(vm, opts, io)),
  );
  serverFlags(
    program
      .command('failover <vm>')
      .description('Fail a VM over to its shadow now (fence, promote, health, traffic, retire; a new shadow follows); exit 1 when held or failed')
      .option('--dry-run', 'say what would happen (path, shadow, data-loss bound) and change nothing'),
  ).action(shadowAction('failover', async (_m, vm: string, opts: Record<string, unknown>) => (await import('./failover-command.js')).failoverCommand(vm, opts, io)));
  serverFlags(
    program
      .command('events')
      .description('The event log: failover steps with times, reasons and data-loss bounds; shadow, VM and host changes; alerts')
      .option('--vm <id>', 'only this VM')
      .option('--kind <kind>', 'only this kind, e.g. failover.step')
      .option('--after <seq>', 'only events after this sequence number')
      .option('--limit <n>', 'at most this many (default 1000)'),
  ).action(shadowAction('events', async (_m, opts: Record<string, unknown>) => (await import('./failover-command.js')).eventsCommand(opts, io)));
  serverFlags(program.command('alerts').description('Firing alerts (lag over SLO, failed sync, lost target, corruption, failed warm-up, unplaced shadow)').option('--all', 'resolved ones too').option('--vm <id>', 'only this VM')).action(
    shadowAction('alerts', (m, opts: Record<string, unknown>) => m.alertsCommand(opts, io)),
  );

  program
    .command('agent')
    .description(
      'Run the host agent: registers with the server and heartbeats under a lease, runs and supervises\n' +
        "this host's VMs (re-adopting running ones after a restart), samples them, probes their services,\n" +
        'and fences itself (pauses its VMs) when it cannot renew its lease. SIGTERM stops the agent, not the VMs.',
    )
    .option('--name <name>', "host name (default: this machine's host name)")
    .option('--server <url>', 'server base URL, e.g. http://127.0.0.1:7000')
    .addOption(new Option('--token <token>', 'bearer token (server and agent API)').env('UMBRA_TOKEN'))
    .option('--listen <addr>', 'agent API listen address host:port, host or port (default <address>:7070)')
    .option('--address <ip>', "host address VMs' service ports are forwarded on (default 127.0.0.1)")
    .option('--run-dir <dir>', 'VM run directories (default $UMBRA_RUN_DIR or ~/.local/state/umbra)')
    .option('--interval <dur>', 'sampling interval (default 10s)')
    .option('--lease <dur>', 'lease assumed until the server replies (default 15s)')
    .option('--label <k=v>', 'host label, e.g. zone=a (repeatable)', collect)
    .option('--log-level <level>', 'log level (default info)')
    .action((opts) =>
      done(
        (async () => {
          const { agentCommand } = await import('./agent-command.js');
          return agentCommand(opts, io);
        })(),
      ),
    );

  const lab = program
    .command('lab')
    .description('A multi-host lab on this machine: hosts as network namespaces on a bridge, an agent in each, a server, VMs (root only)');
  const runLab = (action: 'up' | 'down' | 'status') => (opts: Record<string, unknown>) =>
    done(
      (async () => {
        const { labCommand } = await import('./lab-command.js');
        return labCommand(action, opts, io);
      })(),
    );
  lab
    .command('up')
    .description('Create the hosts, start the server and agents, boot the VMs; prints {server, token, hosts, vms} with --json')
    .option('--hosts <n>', 'number of hosts (default 2)')
    .option('--vms <m>', 'number of VMs (default 1)')
    .option('--interval <dur>', "the agents' sampling interval (default 10s)")
    .option('--protect', 'give every VM a shadow on another host whatever its risk; return once each is synchronized')
    .option('--policy <file>', "the server's policy file (shadow flavor, sync mode, intervals, alerts); its traffic: block is replaced by the lab's HAProxy and DNS")
    .option('--state-dir <dir>', 'lab state (default $UMBRA_STATE_DIR or ~/.local/state/umbra)')
    .option('--json', 'print the lab as JSON')
    .option('-q, --quiet', 'no progress on stderr')
    .action(runLab('up'));
  lab
    .command('down')
    .description('Remove everything the lab created (processes, namespaces, bridge, files); safe after a crash and when run twice')
    .option('--state-dir <dir>', 'lab state (default $UMBRA_STATE_DIR or ~/.local/state/umbra)')
    .option('--json', 'print what was removed as JSON')
    .option('-q, --quiet', 'no progress on stderr')
    .action(runLab('down'));
  lab
    .command('status')
    .description('What of the lab is up')
    .option('--state-dir <dir>', 'lab state (default $UMBRA_STATE_DIR or ~/.local/state/umbra)')
    .option('--json', 'print the status as JSON')
    .action(runLab('status'));

  program
    .command('demo')
    .description('Forecast every shared Bitbrains VM and write a report with plots to out/demo/')
    .option('--data <dir>', 'the shared data folder (default: $UMBRA_DATA or ../shared/data)')
    .option('--out <dir>', 'where to write the report (default out/demo)')
    .option('--metric <name>', 'only this metric (repeatable); default every metric', collect)
    .option('--workers <n>', 'worker threads (default: cores)')
    .option('-q, --quiet', 'no progress bar')
    .action((opts) =>
      done(
        (async () => {
          const { demoCommand } = await import('./demo-command.js');
          return demoCommand(opts, io);
        })(),
      ),
    );

  return program;
}
