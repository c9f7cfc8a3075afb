/**
 * The traffic layer: one interface ({@link TrafficSwitch}) over the systems that decide where
 * a service's clients go — HAProxy's runtime API, DNS updates (RFC 2136 + TSIG), a simulated
 * switch for unit tests, and several at once (multi). Plus what the tests and the lab need to
 * run HAProxy and BIND themselves. The contract suite (contract.ts) imports vitest and is
 * imported by tests only.
 */
export * from './switch.js';
export * from './errors.js';
export { errorRateBetween, type ErrorRateWindow } from './stats.js';
export { MultiTrafficSwitch, TrafficPartialError, mergeRouteStates, type DriverFailure } from './multi.js';
export { SimTrafficSwitch, SimTrafficWorld, type SimRoute, type SimSwitchOptions } from './sim/sim-switch.js';
export { HaproxyTrafficSwitch, planHaproxyEnsure, serverRoute, type HaproxySwitchOptions } from './haproxy/haproxy-switch.js';
export { renderHaproxyConfig, haproxyConfigProblems, haproxyNames, type HaproxyConfigOptions, type HaproxyServiceConfig } from './haproxy/config.js';
export { startHaproxy, type HaproxyProcess, type HaproxyProcessOptions } from './haproxy/process.js';
export { runtimeCommand, parseServersState, parseStatCsv, ADMIN, type ServerState, type StatRow } from './haproxy/runtime.js';
export { DnsTrafficSwitch, planDnsEnsure, type DnsSwitchOptions, type ARecords } from './dns/dns-switch.js';
export { parseBindKey, renderBindKey, TSIG_ALGORITHMS, type TsigKey, type TsigAlgorithm } from './dns/tsig.js';
export { startNamed, renderNamedConf, renderZoneFile, type NamedOptions, type NamedProcess, type NamedZone } from './dns/named.js';
export type { DnsServer } from './dns/transport.js';
export { startDaemon, killRecordedDaemons, type Daemon, type DaemonSpec } from './daemon.js';
export { TRAFFIC_HOST_TOOLS, ensureTrafficTools, missingTrafficPackages } from './host-tools.js';
