/**
 * Host ports for the guest service forwards. The real picker asks the kernel for a free port
 * on the agent's address (bind to port 0); there is a window between the check and QEMU
 * binding it, so the VM manager retries a start whose port was taken meanwhile.
 */
import net from 'node:net';

/** Chooses host ports. */
export interface PortPicker {
  /** A port on `address` that is free now and not in `avoid`. */
  pick(address: string, avoid: ReadonlySet<number>): Promise<number>;
  /** True when `port` on `address` can be bound now. */
  isFree(address: string, port: number): Promise<boolean>;
}

function tryBind(address: string, port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(null));
    s.listen({ host: address, port, exclusive: true }, () => {
      const got = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(got));
    });
  });
}

/** The real picker: binds to `address:0` and lets the kernel choose. */
export const osPortPicker: PortPicker = {
  async pick(address, avoid) {
    for (let i = 0; i < 50; i++) {
      const p = await tryBind(address, 0);
      if (p === null) throw new Error(`cannot bind any port on ${address}`);
      if (!avoid.has(p)) return p;
    }
    throw new Error(`no free port on ${address} outside the ${avoid.size} in use`);
  },
  async isFree(address, port) {
    return (await tryBind(address, port)) !== null;
  },
};

/** A deterministic picker for simulated hosts: `start`, `start+1`, ... skipping `avoid` and `taken`. */
export function sequentialPorts(start: number, taken: () => ReadonlySet<string> = () => new Set()): PortPicker {
  let next = start;
  return {
    async pick(address, avoid) {
      while (avoid.has(next) || taken().has(`${address}:${next}`)) next++;
      return next++;
    },
    async isFree(address, port) {
      return !taken().has(`${address}:${port}`);
    },
  };
}
