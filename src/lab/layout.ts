/**
 * The lab's names and addresses, derived deterministically from the host count (pure): the
 * same lab always gets the same names, so every set-up step is an "ensure" and `down` knows
 * what to remove from the recorded layout alone.
 *
 * Invariant: host K (1-based) is namespace `umbra-hK`, address `10.213.0.(10+K)`; its veth pair
 * is `umbra-hK-br` (root side, on the bridge) and `umbra-hK-ns` (inside the namespace).
 */
import { LabError } from './errors.js';

/** The lab's network, shared by every host. */
export interface LabNetwork {
  /** Bridge in the root namespace. */
  bridge: string;
  /** The bridge's address: the server listens here. */
  bridgeAddress: string;
  /** Prefix length of the lab subnet. */
  prefix: number;
}

/** One lab host: a network namespace with one veth leg on the bridge. */
export interface LabHostLayout {
  /** Host (agent) name, e.g. `h1`. */
  name: string;
  /** Network namespace, e.g. `umbra-h1`. */
  netns: string;
  /** The host's address inside its namespace. */
  address: string;
  /** veth end in the root namespace (enslaved to the bridge). */
  vethRoot: string;
  /** veth end inside the namespace (carries `address`). */
  vethNs: string;
}

/** The whole layout of a lab. */
export interface LabLayout {
  network: LabNetwork;
  hosts: LabHostLayout[];
  /** VM ids with the host each is placed on (round-robin). */
  vms: { id: string; host: string }[];
}

/** The lab network (fixed: one lab per machine). */
export const LAB_NETWORK: LabNetwork = { bridge: 'umbra-br0', bridgeAddress: '10.213.0.1', prefix: 24 };

/** The most hosts a lab can have (addresses 10.213.0.11 .. 10.213.0.99). */
export const MAX_LAB_HOSTS = 89;

/** The layout of host `k` (1-based). */
export function hostLayout(k: number): LabHostLayout {
  const ns = `umbra-h${k}`;
  return { name: `h${k}`, netns: ns, address: `10.213.0.${10 + k}`, vethRoot: `${ns}-br`, vethNs: `${ns}-ns` };
}

/**
 * The layout of a lab with `hosts` hosts and `vms` VMs (`vm1`.. placed round-robin on `h1`..).
 * Throws a `USAGE` LabError for counts out of range.
 */
export function labLayout(hosts: number, vms: number): LabLayout {
  if (!Number.isInteger(hosts) || hosts < 1 || hosts > MAX_LAB_HOSTS) {
    throw new LabError('USAGE', `--hosts must be an integer from 1 to ${MAX_LAB_HOSTS} (got ${hosts})`, { step: 'args' });
  }
  if (!Number.isInteger(vms) || vms < 0) throw new LabError('USAGE', `--vms must be a non-negative integer (got ${vms})`, { step: 'args' });
  const hostList = Array.from({ length: hosts }, (_, i) => hostLayout(i + 1));
  return {
    network: LAB_NETWORK,
    hosts: hostList,
    vms: Array.from({ length: vms }, (_, i) => ({ id: `vm${i + 1}`, host: hostList[i % hosts].name })),
  };
}
