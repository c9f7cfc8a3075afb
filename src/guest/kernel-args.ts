/**
 * The kernel command line of the lab guest: what its /init reads (see guest/init) plus the
 * kernel settings every lab VM wants. Pure.
 */

/** Options of {@link guestKernelArgs}. */
export interface GuestKernelArgsOptions {
  /** The data disk's device name (`vda`), or `none` for a warm-shadow standby. Default `vda`. */
  dataDevice?: string;
  /** Guest address with prefix (default 10.0.2.15/24: QEMU user-mode networking). */
  address?: string;
  /** Default gateway (default 10.0.2.2). */
  gateway?: string;
  /** Bearer token for the service's /admin endpoints (none: /admin is refused). */
  adminToken?: string;
  /** A root shell on the serial console (debugging). */
  shell?: boolean;
  /** More arguments, appended verbatim. */
  extra?: readonly string[];
}

const WORD = /^[A-Za-z0-9._:/=,+-]+$/;

/**
 * The `-append` string: serial console, quiet boot, `panic=-1` (a panicked guest resets at
 * once, so QEMU with `-no-reboot` exits and the driver sees the crash), hot-added memory comes
 * online by itself (`memhp_default_state=online`), no crypto self-tests at boot (the Debian
 * kernel runs them for every algorithm it registers: wasted emulated CPU), no Spectre
 * mitigations (retpolines and RSB filling cost emulated instructions on every indirect call and
 * context switch; the lab guest holds no secrets), then the `umbra.*` arguments.
 */
export function guestKernelArgs(opts: GuestKernelArgsOptions = {}): string {
  const args = ['console=ttyS0', 'quiet', 'panic=-1', 'memhp_default_state=online', 'cryptomgr.notests', 'mitigations=off'];
  const add = (key: string, value: string | undefined) => {
    if (value === undefined) return;
    if (!WORD.test(value)) throw new RangeError(`kernel argument ${key}: ${JSON.stringify(value)} has characters outside [A-Za-z0-9._:/=,+-]`);
    args.push(`${key}=${value}`);
  };
  add('umbra.data', opts.dataDevice);
  add('umbra.ip', opts.address);
  add('umbra.gw', opts.gateway);
  add('umbra.token', opts.adminToken);
  if (opts.shell) args.push('umbra.shell=1');
  for (const e of opts.extra ?? []) {
    if (!WORD.test(e)) throw new RangeError(`kernel argument ${JSON.stringify(e)} has characters outside [A-Za-z0-9._:/=,+-]`);
    args.push(e);
  }
  return args.join(' ');
}
