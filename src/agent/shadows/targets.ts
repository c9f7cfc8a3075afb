/**
 * The block-target driver an agent uses by default: the real qemu-storage-daemon one beside
 * the QEMU driver, a simulated one (SIMULATED, no world attached) beside the simulated driver.
 */
import type { Clock } from '../../core/clock.js';
import type { HypervisorDriver } from '../../hypervisor/driver.js';
import type { BlockTargetDriver } from '../../storage/driver.js';
import { QsdBlockTargetDriver } from '../../storage/qsd/qsd-driver.js';
import { SimBlockTargetDriver, SimTargetWorld } from '../../storage/sim/sim-targets.js';

/** Targets under `<runDir>/targets/` for a real driver; simulated ones for a simulated driver. */
export function defaultTargets(driver: HypervisorDriver, runDir: string, clock: Clock): BlockTargetDriver {
  return driver.simulated ? new SimBlockTargetDriver(new SimTargetWorld(clock)) : new QsdBlockTargetDriver({ baseDir: runDir, clock });
}
