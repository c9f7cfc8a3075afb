/**
 * The simulated world: hosts, disk image files, and the network registry (NBD servers and
 * migration listeners by address) the simulated VMs reach each other through. Deterministic:
 * time comes from the injected clock, pids and ids from counters. Nothing here is measured:
 * it is a model for unit tests and `umbra sim`, labelled `simulated` wherever it reports.
 */
import type { Clock } from '../../core/clock.js';
import { SkippingClock } from './skipping-clock.js';
import { SimHost } from './sim-host.js';
import { SimHypervisorDriver } from './sim-driver.js';

/** Model parameters (defaults follow what PLATFORM.md measured under TCG, rounded). */
export interface SimTimings {
  /** Spawn → QMP answers, ms. */
  qmpReadyMs: number;
  /** ACPI power button → process exit, for a guest that handles ACPI, ms. */
  shutdownMs: number;
  /** Full mirror copy speed, bytes per ms (270 MiB/s measured over loopback). */
  mirrorBytesPerMs: number;
  /** Migration stream speed, bytes per ms. */
  migrationBytesPerMs: number;
  /** Pause at migration switchover, ms (26–40 ms measured). */
  migrationDowntimeMs: number;
  /** CPU the QEMU process burns besides guest load, cores (~2 % idle measured). */
  idleCores: number;
  /** QEMU's own RSS besides guest memory, MiB. */
  overheadMiB: number;
  /** Fraction of guest memory resident. */
  residentFraction: number;
}

/** The defaults of {@link SimTimings}. */
export const DEFAULT_TIMINGS: SimTimings = {
  qmpReadyMs: 80,
  shutdownMs: 600,
  mirrorBytesPerMs: 270 * 1024 * 1024 / 1000,
  migrationBytesPerMs: 300 * 1024 * 1024 / 1000,
  migrationDowntimeMs: 30,
  idleCores: 0.02,
  overheadMiB: 90,
  residentFraction: 0.5,
};

/** A disk image in the simulated world. `version` changes on every write: equal versions mean equal content. */
export interface SimFile {
  sizeBytes: number;
  version: number;
}

/** Where a simulated NBD server is and what it serves. */
export interface SimNbdServer {
  host: string;
  vmId: string;
  exports: Map<string, { device: string; writable: boolean }>;
}

/** The simulated world. Build one with a preset (`SimWorld.twoHosts()`) or by hand. */
export class SimWorld {
  readonly clock: Clock;
  readonly timings: SimTimings;
  readonly hosts = new Map<string, SimHost>();
  readonly files = new Map<string, SimFile>();
  /** NBD servers by `address:port`. */
  readonly nbdServers = new Map<string, SimNbdServer>();
  /** Incoming migration listeners by URI (`tcp:address:port`). */
  readonly incoming = new Map<string, { host: string; vmId: string }>();
  /** Host forwards in use, `address:port` → VM. */
  readonly forwards = new Map<string, { host: string; vmId: string }>();
  private nextPid = 1000;
  private fileVersion = 1;

  constructor(opts: { clock?: Clock; timings?: Partial<SimTimings> } = {}) {
    this.clock = opts.clock ?? new SkippingClock(Date.UTC(2026, 0, 1));
    this.timings = { ...DEFAULT_TIMINGS, ...opts.timings };
  }

  /** Two hosts, `h1` (10.0.0.1) and `h2` (10.0.0.2), 4 cores and 8 GiB each. */
  static twoHosts(opts: { clock?: Clock; timings?: Partial<SimTimings> } = {}): SimWorld {
    const w = new SimWorld(opts);
    w.addHost('h1', '10.0.0.1', { cores: 4, memoryMiB: 8192 });
    w.addHost('h2', '10.0.0.2', { cores: 4, memoryMiB: 8192 });
    return w;
  }

  /** One host, `h1` (10.0.0.1). */
  static oneHost(opts: { clock?: Clock; timings?: Partial<SimTimings> } = {}): SimWorld {
    const w = new SimWorld(opts);
    w.addHost('h1', '10.0.0.1', { cores: 4, memoryMiB: 8192 });
    return w;
  }

  /** Adds a host. */
  addHost(name: string, address: string, capacity: { cores: number; memoryMiB: number }): SimHost {
    const h = new SimHost(this, name, address, capacity);
    this.hosts.set(name, h);
    return h;
  }

  /** The host named `name` (throws for an unknown name: a bug in the test). */
  host(name: string): SimHost {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no simulated host ${name}`);
    return h;
  }

  /** A new driver for host `name` (a new one after `close()` models an agent restart). */
  driver(name: string): SimHypervisorDriver {
    return new SimHypervisorDriver(this.host(name));
  }

  /** Creates (or resizes) a disk image file. */
  addFile(path: string, sizeMiB: number): void {
    this.files.set(path, { sizeBytes: sizeMiB * 1024 * 1024, version: this.bumpVersion() });
  }

  /** A fresh content version (files with equal versions have equal content). */
  bumpVersion(): number {
    return this.fileVersion++;
  }

  /** The next process id. */
  allocPid(): number {
    return this.nextPid++;
  }

  /** Kills every VM on a host at once (a host crash). */
  failHost(name: string): void {
    this.host(name).crashAll();
  }
}
