/**
 * The lab network with `ip` (iproute2): a bridge in the root namespace and, per host, a
 * network namespace joined to it by a veth pair. Every function is an "ensure" (creating what
 * is missing) or a "remove" (absent is fine), so `up` can resume and `down` can run twice.
 */
import { LabError } from './errors.js';
import { run } from './exec.js';
import type { LabHostLayout, LabNetwork } from './layout.js';

async function ip(args: string[]): Promise<void> {
  const r = await run('ip', args);
  if (r.code !== 0) throw new LabError('INTERNAL', `ip ${args.join(' ')} failed: ${r.stderr.trim() || `exit ${r.code}`}`, { step: 'network' });
}

/** Runs a removal; "already gone" (which can race: a veth pair vanishes with its namespace) is success. */
async function ipRemove(args: string[]): Promise<void> {
  const r = await run('ip', args);
  if (r.code === 0 || /Cannot find device|No such file or directory|does not exist/i.test(r.stderr)) return;
  throw new LabError('INTERNAL', `ip ${args.join(' ')} failed: ${r.stderr.trim() || `exit ${r.code}`}`, { step: 'network' });
}

/** True when a link with this name exists in the root namespace. */
export async function linkExists(name: string): Promise<boolean> {
  return (await run('ip', ['link', 'show', 'dev', name])).code === 0;
}

/** Names of the network namespaces that exist. */
export async function listNetns(): Promise<string[]> {
  const r = await run('ip', ['netns', 'list']);
  if (r.code !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((n): n is string => Boolean(n));
}

/** Pids of the processes in namespace `netns` (empty when it does not exist). */
export async function netnsPids(netns: string): Promise<number[]> {
  const r = await run('ip', ['netns', 'pids', netns]);
  if (r.code !== 0) return [];
  return r.stdout.split(/\s+/).filter(Boolean).map(Number).filter(Number.isInteger);
}

/** Ensures the bridge exists, carries the lab address and is up. */
export async function ensureBridge(net: LabNetwork): Promise<void> {
  if (!(await linkExists(net.bridge))) await ip(['link', 'add', net.bridge, 'type', 'bridge']);
  const addrs = await run('ip', ['-o', 'addr', 'show', 'dev', net.bridge]);
  if (!addrs.stdout.includes(` ${net.bridgeAddress}/`)) await ip(['addr', 'add', `${net.bridgeAddress}/${net.prefix}`, 'dev', net.bridge]);
  await ip(['link', 'set', net.bridge, 'up']);
}

/** Ensures host `h`'s namespace, its veth pair on the bridge, its address, and `lo` up (hostfwd on 127.0.0.1 needs it). */
export async function ensureHostNet(net: LabNetwork, h: LabHostLayout): Promise<void> {
  if (!(await listNetns()).includes(h.netns)) await ip(['netns', 'add', h.netns]);
  const nsHasVeth = (await run('ip', ['-n', h.netns, 'link', 'show', 'dev', h.vethNs])).code === 0;
  if (!nsHasVeth) {
    // A root-side leftover whose peer is gone would block the add: replace it.
    if (await linkExists(h.vethRoot)) await ipRemove(['link', 'del', h.vethRoot]);
    await ip(['link', 'add', h.vethRoot, 'type', 'veth', 'peer', 'name', h.vethNs, 'netns', h.netns]);
  }
  await ip(['link', 'set', h.vethRoot, 'master', net.bridge]);
  await ip(['link', 'set', h.vethRoot, 'up']);
  const addrs = await run('ip', ['-n', h.netns, '-o', 'addr', 'show', 'dev', h.vethNs]);
  if (!addrs.stdout.includes(` ${h.address}/`)) await ip(['-n', h.netns, 'addr', 'add', `${h.address}/${net.prefix}`, 'dev', h.vethNs]);
  await ip(['-n', h.netns, 'link', 'set', h.vethNs, 'up']);
  await ip(['-n', h.netns, 'link', 'set', 'lo', 'up']);
  // Hosts fail fast on a cut link, as a replication network should be tuned: Linux retransmits
  // an unacknowledged segment for ~15 minutes by default (tcp_retries2=15), and QEMU 7.2's NBD
  // client has no I/O timeout of its own, so a write-blocking mirror would hold the guest's
  // writes that long. 5 retries give up after ~13 s; 2 SYN retries fail a connect in ~7 s.
  const tuned = await run('ip', ['netns', 'exec', h.netns, 'sysctl', '-q', '-w', ...LAB_SYSCTLS]);
  if (tuned.code !== 0) throw new LabError('INTERNAL', `cannot tune TCP in ${h.netns}: ${tuned.stderr.trim()}`, { step: 'network' });
}

/** TCP settings of every lab host (see ensureHostNet). */
export const LAB_SYSCTLS: readonly string[] = ['net.ipv4.tcp_retries2=5', 'net.ipv4.tcp_syn_retries=2'];

/** Removes host `h`'s namespace and veth pair (absent is fine). Its processes must be gone first. */
export async function removeHostNet(h: LabHostLayout): Promise<void> {
  if ((await listNetns()).includes(h.netns)) await ipRemove(['netns', 'del', h.netns]);
  // Deleting the namespace deletes its veth end, and with it the pair; a leftover root end is removed here.
  if (await linkExists(h.vethRoot)) await ipRemove(['link', 'del', h.vethRoot]);
}

/** Removes the bridge (absent is fine). */
export async function removeBridge(net: LabNetwork): Promise<void> {
  if (await linkExists(net.bridge)) await ipRemove(['link', 'del', net.bridge]);
}
