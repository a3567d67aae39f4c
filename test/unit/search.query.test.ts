import { encodeCursor, parseImageQuery } from '../../services/search/search.query';

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

  it('reads lens, ISO range, receive-time range, a circle, facets and a cursor', () => {
    const cursor = encodeCursor({ field: 'distance', order: 'asc' }, [1234.5, 'ab'.repeat(32)]);
    expect(
      parse(`lens=RF50mm&isoMin=100&isoMax=800&receivedFrom=2025-01-01&receivedTo=2025-02-01T12:00:00Z&near=46.5,8.25&radius=2.5km&sort=distance&facets=make,captured,make&cursor=${cursor}`),
    ).toMatchObject({
      lens: 'RF50mm',
      iso: { min: 100, max: 800 },
      receivedFrom: new Date('2025-01-01T00:00:00Z'),
      receivedTo: new Date('2025-02-01T12:00:00Z'),
      near: { lat: 46.5, lon: 8.25, radiusMeters: 2500 },
      sort: { field: 'distance', order: 'asc' },
      facets: ['make', 'captured'],
      after: [1234.5, 'ab'.repeat(32)],
    });
    expect(parse('near=0,0&radius=750').near).toEqual({ lat: 0, lon: 0, radiusMeters: 750 });
    expect(parse('isoMax=200').iso).toEqual({ min: undefined, max: 200 });
  });

  it('keeps page within the first 10,000 results and points past them to cursor', () => {
    expect(parse('page=100&size=100')).toMatchObject({ page: 100, size: 100 });
    expect(() => parse('page=101&size=100')).toThrow(/^page: .*cursor/);
    expect(() => parse('page=10000&size=2')).toThrow(/^page: /);
  });

  it('refuses a cursor made for another sort, or not made by the API', () => {
    const cursor = encodeCursor({ field: 'receivedAt', order: 'desc' }, [1_700_000_000_000, 'a'.repeat(64)]);
    expect(parse(`cursor=${cursor}`).after).toEqual([1_700_000_000_000, 'a'.repeat(64)]);
    expect(() => parse(`cursor=${cursor}&sort=capturedAt`)).toThrow(/^cursor: was made for sort=-receivedAt/);
    expect(() => parse(`cursor=${cursor}&page=2`)).toThrow(/^page: cannot be combined with cursor/);
    expect(() => parse('cursor=bm90IGpzb24')).toThrow(/^cursor: is not a cursor/);
    expect(() => parse(`cursor=${Buffer.from(JSON.stringify({ s: '-receivedAt', a: ['x', 1] })).toString('base64url')}`)).toThrow(/^cursor: /);
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
    ['near=91,0&radius=1km', /^near: /],
    ['near=1&radius=1km', /^near: /],
    ['near=1,2', /^radius: /],
    ['near=1,2&radius=5mi', /^radius: /],
    ['near=1,2&radius=0', /^radius: /],
    ['near=1,2&radius=30000km', /^radius: /],
    ['radius=5km', /^radius: needs near/],
    ['sort=distance', /^sort: distance needs near/],
    ['isoMin=800&isoMax=100', /^isoMin: /],
    ['isoMin=-1', /^isoMin: /],
    ['receivedFrom=2025-02-01&receivedTo=2025-01-01', /^receivedFrom: /],
    ['facets=make,colour', /^facets: unknown facet "colour"/],
  ])('refuses %s, naming the parameter', (query, message) => {
    expect(() => parse(query)).toThrow(message);
  });
});
