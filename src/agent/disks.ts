/**
 * Data disk images: created once per VM (empty qcow2: the guest formats it on first boot) and
 * removed with the VM. The simulated variant records files in a SimWorld instead.
 */
import { existsSync, rmSync } from 'node:fs';
import { createDataDisk } from '../guest/data-disk.js';
import type { SimWorld } from '../hypervisor/sim/world.js';

/** Creates and removes data disk images. */
export interface DiskProvisioner {
  /** Creates the image when it does not exist (an existing one keeps its data). */
  ensure(path: string, sizeMiB: number): Promise<void>;
  /** Deletes the image (no-op when absent). */
  remove(path: string): Promise<void>;
}

/** Real images with `qemu-img create` (qcow2). */
export const qemuImgDisks: DiskProvisioner = {
  async ensure(path, sizeMiB) {
    if (!existsSync(path)) await createDataDisk(path, sizeMiB, { format: 'qcow2' });
  },
  async remove(path) {
    rmSync(path, { force: true });
  },
};

/** Images in a simulated world (SIMULATED: no file is written). */
export function simDisks(world: SimWorld): DiskProvisioner {
  return {
    async ensure(path, sizeMiB) {
      if (!world.files.has(path)) world.addFile(path, sizeMiB);
    },
    async remove(path) {
      world.files.delete(path);
    },
  };
}
