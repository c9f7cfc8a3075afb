/** The one-machine multi-host lab: hosts as network namespaces on a bridge, a server, agents, VMs. */
export { labUp, agentArgv, type LabUpOptions, type LabUpResult } from './up.js';
export { labDown, type LabDownReport } from './down.js';
export { labStatus, renderLabStatus, type LabStatusReport } from './status.js';
export { labLayout, hostLayout, LAB_NETWORK, MAX_LAB_HOSTS, type LabLayout, type LabHostLayout, type LabNetwork } from './layout.js';
export { labPaths, readLabState, type LabState, type LabHostState, type LabVmState, type LabProcess, type LabPaths } from './state.js';
export { LabError, requireRoot, type LabStep } from './errors.js';
export { cliEntry } from './entry.js';
export { spawnDetached, isAlive, procInfo, waitForJsonLine, findProcessesMentioning, stopProcesses } from './procs.js';
export { writeLabState } from './state.js';
export { ensureBridge, ensureHostNet, removeHostNet, removeBridge } from './net.js';
