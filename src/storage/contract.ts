/**
 * The contract suite every {@link BlockTargetDriver} passes: the simulated driver in a unit test
 * (sim/sim-targets.test.ts), the qemu-storage-daemon driver against the real daemon
 * (test/storage-qsd.test.ts). A case may be skipped only with a written reason, shown in the
 * test name.
 *
 * This module imports vitest: import it from tests only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UmbraError } from '../core/errors.js';
import { chunkDigest, combineChunkDigests } from './digest.js';
import type { BlockTargetDriver } from './driver.js';

/** An NBD export to reach. */
export interface ExportRef {
  host: string;
  port: number;
  export: string;
}

/** What a driver under test brings to the suite. */
export interface TargetContractHarness {
  /** The driver under test (replaced by `reopen`). */
  driver: BlockTargetDriver;
  /** Address the NBD servers bind to. */
  host: string;
  /** A free TCP port on `host`. */
  freePort(): Promise<number>;
  /** Writes `len` bytes of value `byte` at `offset` through an export (what a replication does). */
  write(ref: ExportRef, offset: number, len: number, byte: number): Promise<void>;
  /** True when `len` bytes at `offset` of an export all equal `byte`. */
  holds(ref: ExportRef, offset: number, len: number, byte: number): Promise<boolean>;
  /** Size of the target file on disk, -1 when it is missing (absent for a driver that writes no file). */
  fileSize?(path: string): number;
  /** Closes the driver and returns a new one on the same host (an agent restart); sets `driver`. */
  reopen(): Promise<BlockTargetDriver>;
  /** Kills whatever the suite left running and removes its files. */
  cleanup(): Promise<void>;
}

/** The cases of the suite (keys of `skip`). */
export type TargetContractCase = 'ensure and status' | 'validation and errors' | 'digest follows writes' | 'kill and restart keep the bytes' | 'adoption after a restart' | 'point in time' | 'remove';

/** Options of {@link runBlockTargetContract}. */
export interface TargetContractOptions {
  name: string;
  make: () => Promise<TargetContractHarness>;
  /** Cases to skip, each with its reason. */
  skip?: Partial<Record<TargetContractCase, string>>;
}

const MiB = 1024 * 1024;

async function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'no error',
    (e: unknown) => (e as UmbraError).code ?? String(e),
  );
}

/** Registers the suite. */
export function runBlockTargetContract(opts: TargetContractOptions): void {
  describe(`BlockTargetDriver contract: ${opts.name}`, () => {
    let h: TargetContractHarness;
    beforeAll(async () => {
      h = await opts.make();
    });
    afterAll(async () => {
      await h?.cleanup();
    });
    const d = () => h.driver;
    const spec = async (id: string, sizeBytes = 4 * MiB) => ({ id, sizeBytes, host: h.host, port: await h.freePort(), exportName: `${id}-x` });
    const ref = (s: { host: string; port: number; exportName: string }): ExportRef => ({ host: s.host, port: s.port, export: s.exportName });
    const cases: [TargetContractCase, () => Promise<void>][] = [
      [
        'ensure and status',
        async () => {
          const s = await spec('c-ensure');
          const st = await d().ensure(s);
          expect(st).toMatchObject({ id: 'c-ensure', state: 'running', sizeBytes: 4 * MiB, export: { host: h.host, port: s.port, export: 'c-ensure-x' } });
          expect(st.pid).toBeTypeOf('number');
          if (h.fileSize) expect(h.fileSize(st.file)).toBe(4 * MiB);
          expect(await d().ensure(s)).toEqual(st); // ensure again: the same process
          expect(await d().status('c-ensure')).toEqual(st);
          expect((await d().list()).map((t) => t.id)).toContain('c-ensure');
          await h.write(ref(s), 0, 4096, 0x11); // the export is writable
          expect(await h.holds(ref(s), 0, 4096, 0x11)).toBe(true);
        },
      ],
      [
        'validation and errors',
        async () => {
          const s = await spec('c-errors');
          expect(await codeOf(d().ensure({ ...s, sizeBytes: 1000 }))).toBe('REQUEST_INVALID');
          expect(await codeOf(d().ensure({ ...s, id: 'Bad_Id' }))).toBe('REQUEST_INVALID');
          await d().ensure(s);
          expect(await codeOf(d().ensure({ ...s, sizeBytes: 8 * MiB }))).toBe('CONFLICT'); // never resized
          expect(await codeOf(d().ensure({ ...s, exportName: 'other' }))).toBe('CONFLICT'); // runs with another export
          expect(await codeOf(d().status('c-nope'))).toBe('NOT_FOUND');
          expect(await codeOf(d().kill('c-nope'))).toBe('NOT_FOUND');
          expect(await codeOf(d().digest('c-nope'))).toBe('NOT_FOUND');
          expect(await codeOf(d().digest('c-errors', 100))).toBe('REQUEST_INVALID');
          expect(await codeOf(d().exportPointInTime('c-errors', 'Bad Name'))).toBe('REQUEST_INVALID');
          await d().remove('c-nope'); // no-op
          // A port someone else holds: the start fails and says why.
          const busy = await spec('c-busy');
          const taken = await d().ensure({ ...busy, id: 'c-holder' });
          const err = await d().ensure({ ...busy, port: taken.export.port }).then(
            () => null,
            (e: UmbraError) => e,
          );
          expect(err?.code).toBe('VM_START_FAILED');
          expect(String(err?.context.stderrTail)).toMatch(/in use/i);
          await d().remove('c-holder');
          await d().remove('c-busy');
        },
      ],
      [
        'digest follows writes',
        async () => {
          const s = await spec('c-digest', 3 * MiB + 512 * 1024); // a partial last chunk
          await d().ensure(s);
          const zeros = await d().digest('c-digest');
          const z1 = chunkDigest(Buffer.alloc(MiB));
          expect(zeros).toMatchObject({ sizeBytes: 3.5 * MiB, chunkBytes: MiB, chunks: [z1, z1, z1, chunkDigest(Buffer.alloc(MiB / 2))] });
          expect(zeros.digest).toBe(combineChunkDigests(zeros.chunks));
          await h.write(ref(s), MiB, MiB, 0x5a);
          const after = await d().digest('c-digest');
          expect(after.chunks[1]).toBe(chunkDigest(Buffer.alloc(MiB, 0x5a)));
          expect([after.chunks[0], after.chunks[2], after.chunks[3]]).toEqual([zeros.chunks[0], zeros.chunks[2], zeros.chunks[3]]);
          expect(after.digest).not.toBe(zeros.digest);
          const small = await d().digest('c-digest', 64 * 1024);
          expect(small.chunks).toHaveLength(56);
        },
      ],
      [
        'kill and restart keep the bytes',
        async () => {
          const s = await spec('c-kill');
          const first = await d().ensure(s);
          await h.write(ref(s), 0, MiB, 0x33);
          const before = await d().digest('c-kill');
          const killed = await d().kill('c-kill');
          expect(killed).toMatchObject({ state: 'stopped', pid: null });
          expect(await d().kill('c-kill')).toMatchObject({ state: 'stopped' }); // no-op
          const again = await d().ensure(s); // same file, same port
          expect(again.state).toBe('running');
          expect(again.pid).not.toBe(first.pid);
          expect((await d().digest('c-kill')).digest).toBe(before.digest);
          expect(await h.holds(ref(s), 0, MiB, 0x33)).toBe(true);
          const stopped = await d().stop('c-kill');
          expect(stopped.state).toBe('stopped');
          expect((await d().digest('c-kill')).digest).toBe(before.digest);
        },
      ],
      [
        'adoption after a restart',
        async () => {
          const s = await spec('c-adopt');
          const st = await d().ensure(s);
          await h.reopen();
          expect(await d().status('c-adopt')).toEqual(st);
          expect(await d().ensure(s)).toEqual(st); // found again, not restarted
          await h.write(ref(s), 0, 4096, 0x44);
          expect(await h.holds(ref(s), 0, 4096, 0x44)).toBe(true);
        },
      ],
      [
        'point in time',
        async () => {
          const s = await spec('c-pit');
          await d().ensure(s);
          await h.write(ref(s), 0, MiB, 0xaa);
          const pit = await d().exportPointInTime('c-pit', 'r1');
          expect(pit).toMatchObject({ name: 'r1', host: h.host, port: s.port, export: 'c-pit-x-r1' });
          expect(await d().exportPointInTime('c-pit', 'r1')).toMatchObject({ export: pit.export, setupMs: 0 }); // ensure
          await h.write(ref(s), 0, MiB, 0xbb); // the live target moves on
          expect(await h.holds(pit, 0, MiB, 0xaa)).toBe(true); // the copy does not
          expect(await h.holds(ref(s), 0, MiB, 0xbb)).toBe(true);
          expect(await d().listPointInTime('c-pit')).toEqual(['r1']);
          await d().releasePointInTime('c-pit', 'r1');
          await d().releasePointInTime('c-pit', 'r1'); // no-op
          expect(await d().listPointInTime('c-pit')).toEqual([]);
          await h.write(ref(s), 0, MiB, 0xcc); // still writable after the release
          expect(await h.holds(ref(s), 0, MiB, 0xcc)).toBe(true);
          await d().kill('c-pit');
          expect(await codeOf(d().exportPointInTime('c-pit', 'r2'))).toBe('VM_INVALID_STATE');
        },
      ],
      [
        'remove',
        async () => {
          const s = await spec('c-remove');
          const st = await d().ensure(s);
          await d().remove('c-remove');
          expect(await codeOf(d().status('c-remove'))).toBe('NOT_FOUND');
          expect((await d().list()).map((t) => t.id)).not.toContain('c-remove');
          if (h.fileSize) expect(h.fileSize(st.file)).toBe(-1);
          // The port is free again.
          const again = await d().ensure({ ...s, id: 'c-remove2' });
          expect(again.state).toBe('running');
          await d().remove('c-remove2');
        },
      ],
    ];
    for (const [name, fn] of cases) {
      const why = opts.skip?.[name];
      if (why) it.skip(`${name} (skipped: ${why})`, fn);
      else it(name, fn, 60_000);
    }
  });
}
