import { describe, expect, it } from 'vitest';
import { Router } from './router.js';

const r = new Router([
  { method: 'GET', path: '/v1/vms', auth: true, handler: 'list' },
  { method: 'POST', path: '/v1/vms', auth: true, handler: 'create' },
  { method: 'GET', path: '/v1/vms/:id', auth: true, handler: 'get' },
  { method: 'GET', path: '/v1/vms/:id/samples', auth: true, handler: 'samples' },
  { method: 'GET', path: '/healthz', auth: false, handler: 'health' },
]);

describe('Router', () => {
  it('matches by method and segments and decodes parameters', () => {
    expect(r.match('POST', '/v1/vms').route.handler).toBe('create');
    expect(r.match('GET', '/v1/vms/').route.handler).toBe('list');
    const m = r.match('GET', '/v1/vms/a%20b/samples');
    expect([m.route.handler, m.params]).toEqual(['samples', { id: 'a b' }]);
    expect(r.match('GET', '/healthz').route.auth).toBe(false);
  });

  it('answers NOT_FOUND for an unknown path and METHOD_NOT_ALLOWED with the allowed methods', () => {
    expect(() => r.match('GET', '/v1/nope')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(() => r.match('GET', '/v1/vms/%E0%A4%A')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(() => r.match('DELETE', '/v1/vms')).toThrow(expect.objectContaining({ code: 'METHOD_NOT_ALLOWED', context: expect.objectContaining({ allowed: ['GET', 'POST'] }) }));
  });
});
