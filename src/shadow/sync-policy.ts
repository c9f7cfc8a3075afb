/**
 * How a shadow is fed and what kind it is (issue 4 §5), from the policy's tolerances. Pure.
 *
 * - Mode: `max_data_loss: 0` ⇒ `sync` (a write-blocking mirror: every acknowledged write is on
 *   the shadow), whatever synchronization_mode says; the override is reported. A `periodic` mode
 *   whose interval exceeds max_data_loss could lose a whole interval of writes ⇒ `async`
 *   (reported too). Otherwise the configured mode.
 * - Flavor: a `migrate` shadow keeps process state for planned failovers (live migration), but
 *   when the primary is dead it recovers by cold-booting from its disk. When max_downtime is
 *   below the cold-boot time (measured by rehearsals, else {@link DEFAULT_COLD_BOOT_SECONDS}),
 *   that path misses the budget, so the shadow is `warm` (booted, takes over the disk in well
 *   under a second); reported as an override. Otherwise the configured flavor.
 */
import type { ReplicationMode, ShadowFlavor } from '../api/shadow-protocol.js';
import type { Policy } from '../config/schema.js';

/**
 * Cold boot to "service answers" when nothing was measured: 5 s. PLATFORM.md measured 2.2–2.6 s
 * under TCG with an uncompressed kernel, ~5 s with vmlinuz, 6.6 s for 4 VMs at once, and 2.7 s
 * from SIGKILL to a cold-booted shadow serving.
 */
export const DEFAULT_COLD_BOOT_SECONDS = 5;
/** A warm shadow's takeover (PLATFORM.md: 114–674 ms from kill to serving): 1 s. */
export const WARM_TAKEOVER_SECONDS = 1;

export interface SyncPolicyInput {
  policy: Pick<Policy, 'synchronization_mode' | 'synchronization_interval' | 'shadow_flavor' | 'max_data_loss' | 'max_downtime'>;
  /** The VM's measured cold-boot time, seconds (a pit-copy rehearsal's timeToReadyMs / 1000). */
  measuredColdBootSeconds?: number | null;
}

/** A policy value the choice did not follow. */
export interface SyncOverride {
  field: 'synchronization_mode' | 'shadow_flavor';
  configured: string;
  chosen: string;
  why: string;
}

export interface SyncChoice {
  mode: ReplicationMode;
  flavor: ShadowFlavor;
  /** Seconds between periodic rounds (the policy's synchronization_interval). */
  intervalSeconds: number;
  coldBootSeconds: number;
  coldBootSource: 'measured' | 'default';
  /** How a crash of the primary is recovered with this flavor, and about how long it takes. */
  crashRecovery: { path: 'warm-takeover' | 'cold-boot'; seconds: number };
  overrides: SyncOverride[];
  /** One line per decision. */
  reasons: string[];
}

/** Chooses the replication mode and the shadow flavor. */
export function chooseSync(input: SyncPolicyInput): SyncChoice {
  const p = input.policy;
  const overrides: SyncOverride[] = [];
  const reasons: string[] = [];
  const measured = input.measuredColdBootSeconds;
  const coldBootSource = measured != null && Number.isFinite(measured) && measured > 0 ? 'measured' : 'default';
  const coldBootSeconds = coldBootSource === 'measured' ? measured! : DEFAULT_COLD_BOOT_SECONDS;

  let mode: ReplicationMode = p.synchronization_mode;
  if (p.max_data_loss === 0) {
    mode = 'sync';
    if (p.synchronization_mode !== 'sync') {
      const why = 'max_data_loss is 0: only a write-blocking mirror loses no acknowledged write';
      overrides.push({ field: 'synchronization_mode', configured: p.synchronization_mode, chosen: 'sync', why });
      reasons.push(`mode sync (not ${p.synchronization_mode}): ${why}`);
    } else {
      reasons.push('mode sync: as configured (max_data_loss 0)');
    }
  } else if (p.synchronization_mode === 'periodic' && p.synchronization_interval > p.max_data_loss) {
    mode = 'async';
    const why = `periodic copies every ${p.synchronization_interval}s could lose up to that much, above max_data_loss ${p.max_data_loss}s`;
    overrides.push({ field: 'synchronization_mode', configured: 'periodic', chosen: 'async', why });
    reasons.push(`mode async (not periodic): ${why}`);
  } else {
    reasons.push(`mode ${mode}: as configured (max_data_loss ${p.max_data_loss}s)`);
  }

  let flavor: ShadowFlavor = p.shadow_flavor;
  const boot = `${coldBootSeconds}s (${coldBootSource})`;
  if (p.shadow_flavor === 'migrate' && p.max_downtime < coldBootSeconds) {
    flavor = 'warm';
    const why = `max_downtime ${p.max_downtime}s is below the cold-boot time ${boot} a migrate shadow needs when the primary is dead; a warm shadow takes over in about ${WARM_TAKEOVER_SECONDS}s (planned failovers lose live migration)`;
    overrides.push({ field: 'shadow_flavor', configured: 'migrate', chosen: 'warm', why });
    reasons.push(`flavor warm (not migrate): ${why}`);
  } else if (flavor === 'migrate') {
    reasons.push(`flavor migrate: as configured; a crash is recovered by a cold boot (${boot}) within max_downtime ${p.max_downtime}s`);
  } else {
    reasons.push(`flavor warm: as configured (takeover about ${WARM_TAKEOVER_SECONDS}s, max_downtime ${p.max_downtime}s)`);
  }
  if (flavor === 'warm' && p.max_downtime < WARM_TAKEOVER_SECONDS) {
    reasons.push(`warning: max_downtime ${p.max_downtime}s is below even a warm takeover (about ${WARM_TAKEOVER_SECONDS}s)`);
  }
  const crashRecovery = flavor === 'warm' ? { path: 'warm-takeover' as const, seconds: WARM_TAKEOVER_SECONDS } : { path: 'cold-boot' as const, seconds: coldBootSeconds };
  return { mode, flavor, intervalSeconds: p.synchronization_interval, coldBootSeconds, coldBootSource, crashRecovery, overrides, reasons };
}
