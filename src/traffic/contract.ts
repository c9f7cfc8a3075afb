/**
 * The contract suite every {@link TrafficSwitch} passes: the simulated one
 * (sim/sim-switch.test.ts), the multi switch (multi.test.ts), and the real HAProxy and DNS
 * drivers against real haproxy and named (test/traffic-haproxy.test.ts,
 * test/traffic-dns.test.ts). A case may be skipped only with a written reason, shown in the
 * test name.
 *
 * This module imports vitest: import it from tests only.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { activeTarget, routesTo, type Backend, type RouteState, type TrafficSwitch } from './switch.js';

/** The cases of the suite (keys of `skip`). */
export type TrafficContractCase =
  | 'ensure routes and is idempotent'
  | 'switch moves one service only'
  | 'a route changed behind its back heals'
  | 'disable stops traffic and ensure restores it'
  | 'unknown service is NOT_FOUND, or routed where any name routes'
  | 'invalid requests are refused before anything is sent'
  | 'concurrent ensures of different services'
  | 'stats count per service, or there are none as declared';

/** What an implementation brings to each case. */
export interface TrafficContractFixture {
  switch: TrafficSwitch;
  /** Two services the switch has routes for (routed anywhere at the start). */
  services: readonly [string, string];
  /** Three backends with distinct hosts, valid for this switch. */
  backends: readonly [Backend, Backend, Backend];
  /** Points the service at `backend` behind the switch's back (a raw command, not the driver). */
  tamper(service: string, backend: Backend): Promise<void>;
  /** A service the switch has no route for; absent where any name routes (DNS creates names). */
  unknownService?: string;
  /** Where any name routes (no `unknownService`): a name never used before, created by its first ensure. */
  freshService?: string;
  /** Why the switch has no `stats` (DNS has no request counters); absent: it must have them. */
  noStats?: string;
  /** Releases the fixture (after each case, after `switch.close()`). */
  dispose?(): Promise<void>;
}

export interface TrafficContractOptions {
  /** Shown in the suite's name. */
  name: string;
  make: () => Promise<TrafficContractFixture> | TrafficContractFixture;
  /** Cases to skip, each with its reason. */
  skip?: Partial<Record<TrafficContractCase, string>>;
}

/** Registers the suite. */
export function runTrafficSwitchContract(opts: TrafficContractOptions): void {
  describe(`TrafficSwitch contract: ${opts.name}`, () => {
    let fx: TrafficContractFixture;
    let sw: TrafficSwitch;
    beforeEach(async () => {
      fx = await opts.make();
      sw = fx.switch;
    });
    afterEach(async () => {
      await sw.close();
      await fx.dispose?.();
    });

    /** The state routes to `b` as far as this switch can see (port only where it routes ports). */
    const expectRoutes = (state: RouteState, b: Backend) => {
      expect(routesTo(state, b), `${JSON.stringify(state)} routes to ${b.host}:${b.port}`).toBe(true);
      const t = activeTarget(state)!;
      expect(t.port).toBe(sw.capabilities.routesPort ? b.port : null);
      if (!sw.capabilities.checksHealth) expect(t.health).toBe('unknown');
    };

    const cases: Record<TrafficContractCase, () => Promise<void>> = {
      'ensure routes and is idempotent': async () => {
        const [s] = fx.services;
        const [b1] = fx.backends;
        const first = await sw.ensure(s, b1);
        expect(first.before.service).toBe(s);
        if (routesTo(first.before, b1)) expect(first.changed).toBe(false);
        else expect(first.actions.length).toBeGreaterThan(0);
        expectRoutes(await sw.observe(s), b1);
        const again = await sw.ensure(s, b1);
        expect(again).toMatchObject({ changed: false, actions: [] });
        expectRoutes(again.before, b1);
      },

      'switch moves one service only': async () => {
        const [s1, s2] = fx.services;
        const [b1, b2, b3] = fx.backends;
        await sw.ensure(s1, b1);
        await sw.ensure(s2, b3);
        const moved = await sw.ensure(s1, b2);
        expect(moved.changed).toBe(true);
        expectRoutes(moved.before, b1);
        expectRoutes(await sw.observe(s1), b2);
        expectRoutes(await sw.observe(s2), b3);
      },

      'a route changed behind its back heals': async () => {
        const [s] = fx.services;
        const [b1, b2] = fx.backends;
        await sw.ensure(s, b1);
        await fx.tamper(s, b2);
        const seen = await sw.observe(s);
        expect(routesTo(seen, b1)).toBe(false);
        const healed = await sw.ensure(s, b1);
        expect(healed.changed).toBe(true);
        expect(healed.actions.length).toBeGreaterThan(0);
        expectRoutes(await sw.observe(s), b1);
        expect((await sw.ensure(s, b1)).changed).toBe(false);
      },

      'disable stops traffic and ensure restores it': async () => {
        const [s] = fx.services;
        const [b1] = fx.backends;
        await sw.ensure(s, b1);
        const off = await sw.disable(s);
        expect(off.changed).toBe(true);
        const seen = await sw.observe(s);
        expect(activeTarget(seen)).toBeNull();
        expect(routesTo(seen, b1)).toBe(false);
        expect((await sw.disable(s)).changed).toBe(false);
        const on = await sw.ensure(s, b1);
        expect(on.changed).toBe(true);
        expectRoutes(await sw.observe(s), b1);
      },

      'unknown service is NOT_FOUND, or routed where any name routes': async () => {
        const u = fx.unknownService;
        if (u === undefined) {
          const n = fx.freshService;
          if (n === undefined) throw new Error('the fixture gives neither unknownService nor freshService');
          const [b1] = fx.backends;
          expect((await sw.ensure(n, b1)).changed).toBe(true);
          expectRoutes(await sw.observe(n), b1);
          expect((await sw.disable(n)).changed).toBe(true);
          expect(activeTarget(await sw.observe(n))).toBeNull();
          return;
        }
        await expect(sw.ensure(u, fx.backends[0])).rejects.toMatchObject({ code: 'NOT_FOUND', retryable: false });
        await expect(sw.observe(u)).rejects.toMatchObject({ code: 'NOT_FOUND' });
        await expect(sw.disable(u)).rejects.toMatchObject({ code: 'NOT_FOUND' });
        if (sw.stats) await expect(sw.stats(u)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      },

      'invalid requests are refused before anything is sent': async () => {
        const [s] = fx.services;
        const [b1] = fx.backends;
        await sw.ensure(s, b1);
        for (const bad of [
          { host: 'not-an-ip', port: 80 },
          { host: '10.0.0.1', port: 0 },
          { host: '10.0.0.1', port: 70_000 },
          { host: '10.0.0.1\nset server x', port: 80 },
        ]) {
          await expect(sw.ensure(s, bad)).rejects.toMatchObject({ code: 'REQUEST_INVALID', retryable: false });
        }
        for (const name of ['', 'a b', 'vm;shutdown', 'x/y', 'a.b', '-x', 'VM1', 'vm_1']) {
          await expect(sw.ensure(name, b1)).rejects.toMatchObject({ code: 'REQUEST_INVALID' });
          await expect(sw.observe(name)).rejects.toMatchObject({ code: 'REQUEST_INVALID' });
          await expect(sw.disable(name)).rejects.toMatchObject({ code: 'REQUEST_INVALID' });
        }
        expectRoutes(await sw.observe(s), b1);
      },

      'concurrent ensures of different services': async () => {
        const [s1, s2] = fx.services;
        const [b1, b2, b3] = fx.backends;
        await Promise.all([sw.ensure(s1, b3), sw.ensure(s2, b3)]);
        await Promise.all([sw.ensure(s1, b1), sw.ensure(s2, b2), sw.observe(s1)]);
        expectRoutes(await sw.observe(s1), b1);
        expectRoutes(await sw.observe(s2), b2);
      },

      'stats count per service, or there are none as declared': async () => {
        if (fx.noStats !== undefined) {
          // Declared without counters: the controller then reads no error rate from it.
          expect(sw.stats).toBeUndefined();
          return;
        }
        if (!sw.stats) throw new Error('the switch has no stats: declare noStats with the reason');
        const [s1, s2] = fx.services;
        await sw.ensure(s1, fx.backends[0]);
        const st = await sw.stats(s1);
        expect(st.service).toBe(s1);
        const rows = [st.backend, ...Object.values(st.servers)];
        expect(Object.keys(st.servers).length).toBeGreaterThan(0);
        for (const r of rows) {
          for (const k of ['requests', 'http5xx', 'connectionErrors', 'responseErrors'] as const) {
            expect(Number.isInteger(r[k]) && r[k] >= 0, `${k} = ${r[k]}`).toBe(true);
          }
        }
        expect((await sw.stats(s2)).service).toBe(s2);
      },
    };

    for (const [name, body] of Object.entries(cases) as [TrafficContractCase, () => Promise<void>][]) {
      const reason = opts.skip?.[name];
      if (reason) it.skip(`${name} (skipped: ${reason})`, body);
      else it(name, body);
    }

    it('close is idempotent', async () => {
      await sw.close();
      await sw.close();
    });
  });
}
