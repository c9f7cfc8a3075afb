// @ts-check
/**
 * The benchmark's policy file: made for many failovers of one VM in a row, each fast.
 * Sync mode (nothing acknowledged may be lost), warm shadows, short calm periods (cooldown and
 * probation 1 s, 1000 failovers an hour), and criteria that cover every injected fault:
 * a crash or guest panic (`crashed`), a stopped QEMU (`hung`: the agent's monitor gets no answer
 * for 5 s), a lost host, and an error rate of the agent's health probes (the guest answering
 * 500) held over 10 s. Pure.
 */

/** The failover criteria the benchmark runs with by default. */
export const BENCH_CRITERIA = 'state in [crashed, panicked, hung] or host_lost or error_rate > 50% for 10s';

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
