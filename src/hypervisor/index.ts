/**
 * The hypervisor driver layer: one interface ({@link HypervisorDriver}), the QEMU driver, the
 * simulated driver and its worlds. The contract suite (contract.ts) imports vitest and is
 * imported by tests only.
 */
export type { HypervisorDriver, StartOptions, EventFilter } from './driver.js';
export * from './errors.js';
export * from './types.js';
export { vmSpecSchema, diskSchema, parseVmSpec, parseDiskSpec, sameSpec, maxVcpus, type VmSpec, type VmSpecInput, type DiskSpec, type DiskSpecInput } from './spec.js';
export { EventHub, Fanout, waitForEvent, type EventSource } from './events.js';
export { QemuHypervisorDriver, type QemuDriverOptions } from './qemu/qemu-driver.js';
export { QmpClient, type QmpClientOptions, type QmpEvent, type QmpGreeting } from './qemu/qmp-client.js';
export { buildQemuArgs, diskArgs, accelArg, qemuEscape, type Accel, type QemuArgsOptions } from './qemu/args.js';
export { vmPaths, vmsDir, resolveRunDir, type VmPaths } from './qemu/paths.js';
export { probeAccel, type AccelProbeResult, type AccelTrial } from './qemu/accel-probe.js';
export { readProcessStats, type ProcessStats } from './qemu/proc-stats.js';
export { SimWorld, DEFAULT_TIMINGS, type SimTimings, type SimFile } from './sim/world.js';
export { SimHost, type SimVm } from './sim/sim-host.js';
export { SimHypervisorDriver } from './sim/sim-driver.js';
export { SkippingClock } from './sim/skipping-clock.js';
