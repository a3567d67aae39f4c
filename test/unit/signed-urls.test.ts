import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { LocalObjectStore } from '../../shared/adapters/local-object-store.adapter';
import { URL_SECRET_KEY, UrlSigner, loadUrlSecret } from '../../services/search/signed-urls';
import { matchesEtag, parseRange } from '../../services/search/byte-range';

const SECRET = Buffer.alloc(32, 1);
const PATH = `/api/images/${'a'.repeat(64)}/renditions/thumb`;
const logger = pino({ level: 'silent' });

function parts(url: string): { path: string; exp: string | null; sig: string | null } {
  const parsed = new URL(url, 'http://x');
  return { path: parsed.pathname, exp: parsed.searchParams.get('exp'), sig: parsed.searchParams.get('sig') };
}

describe('signed image URLs', () => {
  it('verify while fresh and expire after their lifetime', () => {
    let now = Date.parse('2025-01-01T00:00:00Z');
    const signer = new UrlSigner(SECRET, 3600, () => now);
    const { path: p, exp, sig } = parts(signer.sign(PATH));
    expect(p).toBe(PATH);
    expect(Number(exp) * 1000 - now).toBeGreaterThanOrEqual(3600_000);
    expect(Number(exp) * 1000 - now).toBeLessThanOrEqual(3960_000);
    expect(signer.check(p, exp, sig)).toBe('valid');
    now = Number(exp) * 1000;
    expect(signer.check(p, exp, sig)).toBe('expired');
  });

  it('refuse a tampered path, expiry or signature, and another secret', () => {
    const signer = new UrlSigner(SECRET, 3600);
    const { path: p, exp, sig } = parts(signer.sign(PATH));
    expect(signer.check(p.replace('thumb', 'preview'), exp, sig)).toBe('invalid');
    expect(signer.check(p.replace('/renditions/thumb', '/original'), exp, sig)).toBe('invalid');
    expect(signer.check(p, String(Number(exp) + 3600), sig)).toBe('invalid');
    expect(signer.check(p, exp, `${sig!.slice(0, -1)}${sig!.endsWith('A') ? 'B' : 'A'}`)).toBe('invalid');
    expect(signer.check(p, exp, null)).toBe('invalid');
    expect(signer.check(p, 'soon', sig)).toBe('invalid');
    expect(new UrlSigner(Buffer.alloc(32, 2), 3600).check(p, exp, sig)).toBe('invalid');
  });

  it('give the same URL to repeated searches within a tenth of the lifetime, so browsers cache images', () => {
    let now = Date.parse('2025-01-01T00:00:01Z');
    const signer = new UrlSigner(SECRET, 3600, () => now);
    const first = signer.sign(PATH);
    now += 60_000;
    expect(signer.sign(PATH)).toBe(first);
  });

  it('refuse a short secret', () => {
    expect(() => new UrlSigner(Buffer.alloc(16), 3600)).toThrow(/at least 32 bytes/);
  });

  it('use HTTP_URL_SECRET, or one secret generated once into the store that every node then reads', async () => {
    const store = new LocalObjectStore(path.join(mkdtempSync(path.join(tmpdir(), 'secret-')), 'objects'));
    const first = await loadUrlSecret(store, {}, logger);
    expect(first.length).toBeGreaterThanOrEqual(32);
    expect((await store.getBuffer(URL_SECRET_KEY)).equals(first)).toBe(true);
    expect((await loadUrlSecret(store, {}, logger)).equals(first)).toBe(true);
    const hex = 'ab'.repeat(32);
    expect((await loadUrlSecret(store, { HTTP_URL_SECRET: hex }, logger)).equals(Buffer.from(hex, 'hex'))).toBe(true);
    await expect(loadUrlSecret(store, { HTTP_URL_SECRET: 'short' }, logger)).rejects.toThrow(/HTTP_URL_SECRET/);
  });
});

describe('byte ranges and validators', () => {
  it('read the forms of a single bytes range and say when none can be served', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual({ start: 0, end: 9 });
    expect(parseRange('bytes=90-', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=-10', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=-1000', 100)).toEqual({ start: 0, end: 99 });
    expect(parseRange('bytes=50-1000', 100)).toEqual({ start: 50, end: 99 });
    expect(parseRange('bytes=100-', 100)).toBe('unsatisfiable');
    expect(parseRange('bytes=-0', 100)).toBe('unsatisfiable');
    expect(parseRange('bytes=0-1,5-6', 100)).toBeNull();
    expect(parseRange('items=0-1', 100)).toBeNull();
    expect(parseRange('bytes=9-1', 100)).toBeNull();
    expect(parseRange(undefined, 100)).toBeNull();
  });

  it('match If-None-Match lists, weak tags and * against a strong ETag', () => {
    expect(matchesEtag('"a.thumb"', '"a.thumb"')).toBe(true);
    expect(matchesEtag('"x", W/"a.thumb"', '"a.thumb"')).toBe(true);
    expect(matchesEtag('*', '"a.thumb"')).toBe(true);
    expect(matchesEtag('"a.preview"', '"a.thumb"')).toBe(false);
    expect(matchesEtag(undefined, '"a.thumb"')).toBe(false);
  });
});
