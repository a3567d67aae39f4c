import { hashPassword, isAddressAllowed, verifyPassword } from '../../shared/accounts';
import type { AccountConfig } from '../../shared/config/config.schema';
import { tempNameMatcher } from '../../services/ingest/temp-names';

const account = (allowedNetworks: string[]): AccountConfig => ({ name: 'a', passwordHash: 'scrypt$', renditionProfile: 'default', allowedNetworks });

describe('accounts', () => {
  it('stores a salted scrypt hash that verifies only the right password', async () => {
    const hash = await hashPassword('s3cret-pass');
    expect(hash).toMatch(/^scrypt\$131072\$8\$1\$/);
    expect(hash).not.toContain('s3cret');
    expect(await hashPassword('s3cret-pass')).not.toBe(hash);
    expect(await verifyPassword('s3cret-pass', hash)).toBe(true);
    expect(await verifyPassword('s3cret-pasS', hash)).toBe(false);
    expect(await verifyPassword('s3cret-pass', 'plain-text')).toBe(false);
  });

  it('lets an account in only from its networks, IPv4-mapped addresses included', () => {
    expect(isAddressAllowed(account([]), '203.0.113.9')).toBe(true);
    const office = account(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32']);
    expect(isAddressAllowed(office, '10.1.2.3')).toBe(true);
    expect(isAddressAllowed(office, '::ffff:10.1.2.3')).toBe(true);
    expect(isAddressAllowed(office, '192.0.2.7')).toBe(true);
    expect(isAddressAllowed(office, '192.0.2.8')).toBe(false);
    expect(isAddressAllowed(office, '2001:db8::1')).toBe(true);
    expect(isAddressAllowed(office, '127.0.0.1')).toBe(false);
    expect(isAddressAllowed(office, null)).toBe(false);
  });

  it('recognises the temp names uploaders use before their final rename', () => {
    const isTemp = tempNameMatcher(['*.tmp', '*.part', '*.filepart', '.*']);
    for (const name of ['IMG_1.JPG.part', 'x.TMP', 'a.jpg.filepart', '.pureftpd-upload.5f3a']) expect(isTemp(name)).toBe(true);
    for (const name of ['IMG_1.JPG', 'part.jpg', 'tmp']) expect(isTemp(name)).toBe(false);
  });
});
