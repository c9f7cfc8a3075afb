// @ts-check
/** Network helpers shared by the benchmarks. */
import net from 'node:net';

/** A free TCP port on loopback (the OS picks it; bound on 127.0.0.1 then released). */
export function freePort() {
  return /** @type {Promise<number>} */ (
    new Promise((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const { port } = /** @type {net.AddressInfo} */ (s.address());
        s.close(() => resolve(port));
      });
    })
  );
}
