import { parseImageQuery } from '../../services/search/search.query';

const parse = (query: string) => parseImageQuery(new URLSearchParams(query));

describe('search query parameters', () => {
  it('defaults to the newest received first, 20 a page', () => {
    expect(parse('')).toMatchObject({ sort: { field: 'receivedAt', order: 'desc' }, page: 1, size: 20 });
  });

  it('reads every filter', () => {
    expect(parse('q=harbour&account=cam1&make=Canon&model=R5&from=2024-01-01&to=2024-01-31T23:59:59&bbox=-10,40,5.5,52&status=failed&sort=capturedAt&page=3&size=50')).toEqual({
      text: 'harbour',
      account: 'cam1',
      make: 'Canon',
      model: 'R5',
      from: new Date('2024-01-01T00:00:00Z'),
      to: new Date('2024-01-31T23:59:59Z'),
      bbox: { minLon: -10, minLat: 40, maxLon: 5.5, maxLat: 52 },
      status: 'failed',
      sort: { field: 'capturedAt', order: 'asc' },
      page: 3,
      size: 50,
    });
  });

  it('filters by either status, and by none when it is empty', () => {
    expect(parse('status=processed').status).toBe('processed');
    expect(parse('status=').status).toBeUndefined();
  });

  it.each([
    ['status=FAILED', /^status: must be one of processed, failed/],
    ['status=deleted', /^status: /],
    ['bbox=1,2,3', /^bbox: /],
    ['bbox=0,50,1,40', /^bbox: /],
    ['bbox=0,a,1,2', /^bbox: /],
    ['bbox=200,0,210,1', /^bbox: /],
    ['from=not-a-date', /^from: /],
    ['from=2024-02-01&to=2024-01-01', /^from: must not be after to/],
    ['page=0', /^page: /],
    ['size=101', /^size: /],
    ['size=2.5', /^size: /],
    ['sort=size', /^sort: /],
    ['camera=canon', /^camera: unknown parameter/],
  ])('refuses %s, naming the parameter', (query, message) => {
    expect(() => parse(query)).toThrow(message);
  });
});
