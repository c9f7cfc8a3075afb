import { describe, expect, it } from 'vitest';
import { runTrafficSwitchContract } from './contract.js';
import { TrafficRefusedError } from './errors.js';
import { MultiTrafficSwitch, mergeRouteStates } from './multi.js';
import { SimTrafficSwitch, SimTrafficWorld } from './sim/sim-switch.js';
import { routesTo } from './switch.js';

/** A proxy-like and a DNS-like simulated switch over separate worlds, like HAProxy + BIND. */
function pair() {
  const proxyWorld = SimTrafficWorld.withServices('vm-1', 'vm-2');
  const dnsWorld = SimTrafficWorld.withServices('vm-1', 'vm-2');
  const proxy = new SimTrafficSwitch(proxyWorld, { name: 'proxy' });
  const dns = new SimTrafficSwitch(dnsWorld, { name: 'dns', mode: 'dns' });
  return { proxyWorld, dnsWorld, multi: new MultiTrafficSwitch([proxy, dns]) };
}

runTrafficSwitchContract({
  name: 'multi (simulated proxy + simulated DNS)',
  make: () => {
    const { proxyWorld, dnsWorld, multi } = pair();
    return {
      switch: multi,
      services: ['vm-1', 'vm-2'],
      backends: [
        { host: '10.0.0.1', port: 8080 },
        { host: '10.0.0.2', port: 8080 },
        { host: '10.0.0.3', port: 8080 },
      ],
      // Behind the back of one driver only: the other still routes right, a split.
      tamper: async (s, b) => (s === 'vm-1' ? proxyWorld.tamper(s, b) : dnsWorld.tamper(s, b)),
      unknownService: 'vm-9',
    };
  },
});

describe('multi traffic switch', () => {
  it('still switches the drivers that work when one fails, then reports which failed', async () => {
    const { dnsWorld, multi } = pair();
    dnsWorld.failNext();
    const err = await multi.ensure('vm-1', { host: '10.0.0.7', port: 8001 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'TrafficPartialError', code: 'TRAFFIC_UNAVAILABLE', retryable: true });
    expect((err as { failures: { driver: string }[] }).failures.map((f) => f.driver)).toEqual(['dns']);
    const st = await multi.observe('vm-1');
    expect(routesTo(st.parts!.proxy, { host: '10.0.0.7', port: 8001 })).toBe(true);
    expect(routesTo(st, { host: '10.0.0.7', port: 8001 })).toBe(false);
    // The next pass heals the driver that failed.
    const again = await multi.ensure('vm-1', { host: '10.0.0.7', port: 8001 });
    expect(again.actions).toEqual(['dns: record 10.0.0.7']);
    expect(routesTo(await multi.observe('vm-1'), { host: '10.0.0.7', port: 8001 })).toBe(true);
  });

  it('is not retryable when one failure is not', async () => {
    const { proxyWorld, dnsWorld, multi } = pair();
    proxyWorld.failNext();
    dnsWorld.failNext(() => new TrafficRefusedError('bad key', 'NOTAUTH', 'BADSIG'));
    await expect(multi.ensure('vm-1', { host: '10.0.0.7', port: 8001 })).rejects.toMatchObject({ code: 'TRAFFIC_UNAVAILABLE', retryable: false });
  });

  it('refuses an IPv6 backend before any driver is called when one publishes A records only', async () => {
    const { proxyWorld, multi } = pair();
    await expect(multi.ensure('vm-1', { host: '::1', port: 80 })).rejects.toMatchObject({ code: 'REQUEST_INVALID' });
    expect(proxyWorld.log).toEqual([]);
  });

  it('takes stats from the driver that counts', async () => {
    const { proxyWorld, multi } = pair();
    proxyWorld.serve('vm-1', 5, 1);
    expect((await multi.stats!('vm-1')).backend).toMatchObject({ requests: 5, http5xx: 1 });
  });

  it('rejects duplicate driver names', () => {
    const w = SimTrafficWorld.withServices('vm-1');
    expect(() => new MultiTrafficSwitch([new SimTrafficSwitch(w), new SimTrafficSwitch(w)])).toThrow(/names must differ/);
  });
});

describe('mergeRouteStates', () => {
  const up = (host: string, port: number | null, enabled = true, health: 'up' | 'down' | 'unknown' = 'up') => ({ host, port, enabled, health });
  it('merges a proxy target with a DNS record of the same host', () => {
    const s = mergeRouteStates('s', { p: { service: 's', targets: [up('10.0.0.1', 80)] }, d: { service: 's', targets: [up('10.0.0.1', null, true, 'unknown')] } });
    expect(s.targets).toEqual([up('10.0.0.1', 80)]);
  });
  it('shows disagreement as a split and a missing record as not enabled', () => {
    const split = mergeRouteStates('s', { p: { service: 's', targets: [up('10.0.0.1', 80)] }, d: { service: 's', targets: [up('10.0.0.2', null)] } });
    expect(split.targets).toHaveLength(2);
    const missing = mergeRouteStates('s', { p: { service: 's', targets: [up('10.0.0.1', 80)] }, d: { service: 's', targets: [] } });
    expect(missing.targets).toEqual([up('10.0.0.1', 80, false)]);
  });
  it('keeps the worst health', () => {
    const s = mergeRouteStates('s', { a: { service: 's', targets: [up('10.0.0.1', 80, true, 'down')] }, b: { service: 's', targets: [up('10.0.0.1', 80)] } });
    expect(s.targets[0].health).toBe('down');
  });
});
