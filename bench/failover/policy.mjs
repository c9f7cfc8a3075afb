// @ts-check
/**
 * The benchmark's policy file: made for many failovers of one VM in a row, each fast.
 * Sync mode (nothing acknowledged may be lost), warm shadows, short calm periods (cooldown and
 * probation 1 s, 1000 failovers an hour), and criteria that cover every injected fault:
 * a crash or guest panic (`crashed`), a stopped QEMU (`hung`: the agent's monitor gets no answer
 * for 5 s), a lost host, and failing health probes (the guest answering 500). Pure.
 */

/**
 * The failover criteria the benchmark runs with by default. Failing probes are caught with
 * `probe_failures >= 8` (16 s of consecutive failures at the lab's 2 s sampling interval), not
 * with {@link ERROR_RATE_CRITERIA}: see {@link CRITERIA_NOTE}.
 */
export const BENCH_CRITERIA = 'state in [crashed, panicked, hung] or host_lost or probe_failures >= 8';

/** The criteria first planned for the benchmark (an error rate held for 10 s). */
export const ERROR_RATE_CRITERIA = 'state in [crashed, panicked, hung] or host_lost or error_rate > 50% for 10s';

/** Why the default criteria are not {@link ERROR_RATE_CRITERIA} (printed in the report). */
export const CRITERIA_NOTE =
  'With `error_rate > 50% for 10s` the lab does not come up: the error rate is taken over whatever probes fall in the window, ' +
  'so the first failed probe of the booting vm1 (one sample: "error rate 100% (1/1 probes failed over 10s)") fails it over 2 s after it started; ' +
  'its warm shadow cannot be promoted yet (the data disk has no file system before the primary\'s first boot formats it: "mount failed"), ' +
  'the failover fails at `promote`, and vm1 is left paused by the `fence` step (seen on this machine: a controller issue). ' +
  '`probe_failures >= 8` needs 8 failed probes in a row (16 s at the 2 s interval), longer than a first boot here.';

/**
 * The policy file's text.
 * @param {{ criteria?: string, flavor?: 'warm' | 'migrate' }} [o]
 * @returns {string}
 */
export function benchPolicy(o = {}) {
  return `# Written by bench/failover/harness.mjs: many fast failovers of one VM in a row.
version: 1
policies:
  synchronization_mode: sync
  shadow_flavor: ${o.flavor ?? 'warm'}
  max_data_loss: 0
  failover_criteria: ${JSON.stringify(o.criteria ?? BENCH_CRITERIA)}
  cooldown: 1s
  probation: 1s
  max_failovers: { count: 1000, window: 1h }
`;
}
