import { describe, expect, it } from 'vitest';
import { runTrafficSwitchContract } from '../contract.js';
import { TrafficRefusedError } from '../errors.js';
import { SimTrafficSwitch, SimTrafficWorld } from './sim-switch.js';

runTrafficSwitchContract({
  name: 'simulated',
  make: () => {
    const world = SimTrafficWorld.withServices('vm-1', 'vm-2');
    return {
      switch: new SimTrafficSwitch(world),
      services: ['vm-1', 'vm-2'],
      backends: [
        { host: '10.0.0.1', port: 8080 },
        { host: '10.0.0.2', port: 8081 },
        { host: '10.0.0.3', port: 8082 },
      ],
      tamper: async (s, b) => world.tamper(s, b),
      unknownService: 'vm-9',
    };
  },
});

describe('simulated traffic switch', () => {
  it('marks a moved backend healthy only when asked, and only on a move', async () => {
    const world = SimTrafficWorld.withServices('vm-1');
    const sw = new SimTrafficSwitch(world);
    world.tamper('vm-1', { health: 'down' });
    await sw.ensure('vm-1', { host: '10.0.0.1', port: 80 });
    expect((await sw.observe('vm-1')).targets[0].health).toBe('down');
    await sw.ensure('vm-1', { host: '10.0.0.1', port: 80 }, { assumeHealthy: true });
    expect((await sw.observe('vm-1')).targets[0].health).toBe('down');
    await sw.ensure('vm-1', { host: '10.0.0.2', port: 80 }, { assumeHealthy: true });
    expect((await sw.observe('vm-1')).targets[0].health).toBe('up');
    expect(world.log).toEqual(['vm-1: addr 10.0.0.1 port 80', 'vm-1: addr 10.0.0.2 port 80', 'vm-1: health up']);
  });

  it('fails the next call as told, then works again', async () => {
    const world = SimTrafficWorld.withServices('vm-1');
    const sw = new SimTrafficSwitch(world);
    world.failNext();
    await expect(sw.observe('vm-1')).rejects.toMatchObject({ code: 'TRAFFIC_UNAVAILABLE', retryable: true });
    world.failNext(() => new TrafficRefusedError('no', 'REFUSED', undefined));
    await expect(sw.ensure('vm-1', { host: '10.0.0.1', port: 80 })).rejects.toMatchObject({ code: 'TRAFFIC_REFUSED', retryable: false });
    await expect(sw.ensure('vm-1', { host: '10.0.0.1', port: 80 })).resolves.toMatchObject({ changed: true });
  });

  it('counts requests and 5xx', async () => {
    const world = SimTrafficWorld.withServices('vm-1');
    world.serve('vm-1', 10, 3);
    const st = await new SimTrafficSwitch(world).stats!('vm-1');
    expect(st.backend).toMatchObject({ requests: 10, http5xx: 3 });
    expect(st.servers.active).toMatchObject({ requests: 10, http5xx: 3, status: 'UP', address: '127.0.0.1:8001' });
  });
});
