import { describe, expect, it } from 'vitest';
import { haproxyConfigProblems, haproxyNames, renderHaproxyConfig } from './config.js';

const base = {
  socketPath: '/tmp/uhx-1/admin.sock',
  services: [
    { service: 'vm-1', listen: { host: '127.0.0.1', port: 18080 }, backend: { host: '10.0.0.1', port: 8080 } },
    { service: 'vm-2', listen: { host: '::1', port: 18081 }, backend: null, healthPath: null },
  ],
};

describe('renderHaproxyConfig', () => {
  it('renders a frontend and a one-slot backend per service, the admin socket, retries and redispatch', () => {
    const cfg = renderHaproxyConfig(base);
    expect(cfg).toContain('  stats socket /tmp/uhx-1/admin.sock level admin mode 600\n');
    expect(cfg).toContain('  retries 3\n  option redispatch\n');
    expect(cfg).toContain('frontend fe_vm-1\n  bind 127.0.0.1:18080\n  default_backend be_vm-1\n');
    expect(cfg).toContain('backend be_vm-1\n  option httpchk GET /health\n  http-check expect status 200\n');
    expect(cfg).toContain('  server active 10.0.0.1:8080 check\n');
    // IPv6 in brackets; no backend yet: a disabled placeholder; no path: a TCP check.
    expect(cfg).toContain('  bind [::1]:18081\n');
    expect(cfg).toMatch(/backend be_vm-2\n {2}default-server [^\n]+\n {2}server active 127\.0\.0\.1:1 check disabled\n/);
    expect(haproxyNames('vm-1')).toEqual({ frontend: 'fe_vm-1', backend: 'be_vm-1', server: 'active' });
  });

  it('takes timeouts, checks and a state file', () => {
    const cfg = renderHaproxyConfig({ ...base, timeouts: { connectMs: 200 }, check: { interMs: 1000, fall: 3, rise: 2 }, retries: 1, stateFile: '/tmp/uhx-1/state' });
    expect(cfg).toContain('  timeout connect 200ms\n');
    expect(cfg).toContain('  default-server inter 1000ms fastinter 250ms downinter 250ms fall 3 rise 2\n');
    expect(cfg).toContain('  retries 1\n');
    expect(cfg).toContain('  server-state-file /tmp/uhx-1/state\n');
    expect(cfg).toContain('  load-server-state-from-file global\n');
  });

  it('lists every invalid field, and renders nothing then', () => {
    const bad = {
      socketPath: `/tmp/${'x'.repeat(120)}`,
      services: [
        { service: 'VM 1', listen: { host: 'localhost', port: 0 }, backend: { host: '10.0.0.1', port: 99999 }, healthPath: '/h ealth' },
        { service: 'vm-2', listen: { host: '127.0.0.1', port: 1 }, backend: null },
        { service: 'vm-2', listen: { host: '127.0.0.1', port: 1 }, backend: null },
      ],
      retries: -1,
    };
    const p = haproxyConfigProblems(bad);
    for (const want of [/socketPath: \d+ bytes/, /services\[0\]\.service/, /services\[0\]\.listen\.host/, /services\[0\]\.listen\.port/, /services\[0\]\.backend\.port/, /healthPath/, /services\[2\]\.service vm-2: duplicate/, /services\[2\]\.listen 127\.0\.0\.1:1: used twice/, /retries/]) {
      expect(p.some((x) => want.test(x)), `${want} in ${JSON.stringify(p)}`).toBe(true);
    }
    expect(() => renderHaproxyConfig(bad)).toThrow(expect.objectContaining({ code: 'REQUEST_INVALID' }));
    expect(haproxyConfigProblems({ socketPath: '/tmp/a b', services: [] })).toEqual([expect.stringMatching(/socketPath/), 'services: at least one']);
  });
});
