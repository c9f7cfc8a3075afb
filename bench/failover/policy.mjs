// @ts-check
/**
 * The benchmark's policy file: made for many failovers of one VM in a row, each fast.
 * Sync mode (nothing acknowledged may be lost), a warm or migrate shadow, short calm periods
 * (cooldown and probation 1 s, 1000 failovers an hour), and criteria that cover every injected
 * fault: a crash or guest panic (`crashed`), a stopped QEMU (`hung`: the agent's monitor gets no
 * answer for 5 s), a lost host (`host_lost`: its lease ran out), the guest answering 500 to more
 * than half of the client's requests through HAProxy for 3 s (`http_error_rate`, from HAProxy's
 * 5xx/request counters), and an overload (`cpu` above 70 % of its vCPUs for 10 s). Pure.
 */

/** The failover criteria the benchmark runs with by default. */
export const BENCH_CRITERIA = 'state in [crashed, panicked, hung] or host_lost or http_error_rate > 50% for 3s or cpu > 70% for 10s';

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
