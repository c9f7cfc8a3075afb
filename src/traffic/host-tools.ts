/**
 * The host programs the traffic drivers' tests and the lab run (HAProxy, BIND and its tools),
 * and the Debian packages that provide them. Missing ones are installed as root, like the
 * image builder's tools (src/guest/host-tools.ts).
 */
import { ensureHostTools, missingHostPackages, type HostTool } from '../guest/host-tools.js';

/** What the traffic layer runs. */
export const TRAFFIC_HOST_TOOLS: readonly HostTool[] = [
  { need: 'haproxy', pkg: 'haproxy', why: 'the HAProxy traffic switch (tests, lab)' },
  { need: 'named', pkg: 'bind9', why: 'the DNS server the DNS traffic switch updates (tests, lab)' },
  { need: 'tsig-keygen', pkg: 'bind9', why: 'creates TSIG keys for DNS updates' },
  { need: 'dig', pkg: 'bind9-dnsutils', why: 'checks DNS answers by hand' },
];

/** The Debian packages whose traffic tools are missing. */
export function missingTrafficPackages(): string[] {
  return missingHostPackages(TRAFFIC_HOST_TOOLS);
}

/** Installs the missing traffic tools (`apt-get install --no-install-recommends`, as root); returns the packages installed. */
export function ensureTrafficTools(onProgress: (message: string) => void = () => {}): Promise<string[]> {
  return ensureHostTools(onProgress, TRAFFIC_HOST_TOOLS);
}
