import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { ACCOUNTS_KEY, AccountDirectory, hashPassword, isAddressAllowed } from '../../shared/accounts';
import { PasswordVerifier } from '../../shared/password-verifier';
import { LocalObjectStore } from '../../shared/adapters/local-object-store.adapter';
import { loadConfig } from '../../shared/config/config.loader';
import type { AccountConfig } from '../../shared/config/config.schema';
import { IngestError } from '../../shared/errors';
import { tempNameMatcher } from '../../services/ingest/temp-names';
import { waitFor } from '../helpers/wait';

const account = (allowedNetworks: string[]): AccountConfig => ({ name: 'a', passwordHash: 'scrypt$', renditionProfile: 'default', allowedNetworks, allowDownload: false, siteChmod: false });

describe('accounts', () => {
  it('stores a salted scrypt hash that verifies only the right password', async () => {
    const hash = await hashPassword('s3cret-pass');
    expect(hash).toMatch(/^scrypt\$131072\$8\$1\$/);
    expect(hash).not.toContain('s3cret');
    expect(await hashPassword('s3cret-pass')).not.toBe(hash);
    const verifier = new PasswordVerifier({ concurrency: 1, maxQueued: 4, cacheTtlMs: 0 });
    try {
      expect(await verifier.verify('s3cret-pass', hash, 'k')).toBe('match');
      expect(await verifier.verify('s3cret-pasS', hash, 'k')).toBe('mismatch');
      expect(await verifier.verify('s3cret-pass', 'plain-text', 'k')).toBe('mismatch');
    } finally {
      await verifier.close();
    }
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

describe('account directory shared through the object store', () => {
  const HASH = 'scrypt$131072$8$1$c2FsdA==$aGFzaA==';
  let root: string;
  let store: LocalObjectStore;
  const directories: AccountDirectory[] = [];

  /** One node: its own data folder, the shared store, and the given config accounts. */
  function node(options: { refreshMs?: number; dataDir?: string; accounts?: AccountConfig[]; logger?: pino.Logger } = {}): AccountDirectory {
    const config = loadConfig({
      env: {},
      overrides: { dataDir: options.dataDir ?? mkdtempSync(path.join(root, 'node-')), accounts: options.accounts ?? [] },
    });
    const directory = new AccountDirectory(config, store, { refreshMs: options.refreshMs ?? 60_000, logger: options.logger });
    directories.push(directory);
    return directory;
  }

  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'accounts-'));
    store = new LocalObjectStore(path.join(root, 'objects'));
  });

  afterEach(async () => {
    await Promise.all(directories.splice(0).map((d) => d.stop()));
    await store.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('finds an account saved on one node on another after a refresh', async () => {
    const [a, b] = [node(), node()];
    await Promise.all([a.start(), b.start()]);
    await a.save({ name: 'cam9', passwordHash: HASH, renditionProfile: 'default', allowedNetworks: [] });

    expect(a.find('cam9')).toMatchObject({ name: 'cam9', passwordHash: HASH });
    expect(b.find('cam9')).toBeNull();
    await b.refresh();
    expect(b.find('cam9')).toMatchObject({ name: 'cam9', passwordHash: HASH });
    expect(JSON.parse((await store.getBuffer(ACCOUNTS_KEY)).toString())).toEqual([expect.objectContaining({ name: 'cam9' })]);
    expect((await store.head(ACCOUNTS_KEY))?.contentType).toBe('application/json');
  });

  it('lets an account saved on one node in on another within the refresh interval, without anyone calling refresh', async () => {
    const [a, b] = [node({ refreshMs: 50 }), node({ refreshMs: 50 })];
    await Promise.all([a.start(), b.start()]);
    await a.save({ name: 'late', passwordHash: HASH, renditionProfile: 'default', allowedNetworks: ['10.0.0.0/8'] });

    const found = await waitFor(() => b.find('late') ?? undefined, 5000, 'the other node to see the account');
    expect(found.allowedNetworks).toEqual(['10.0.0.0/8']);
    expect(b.list().map((x) => x.name)).toEqual(['late']);
  });

  it('keeps accounts pinned in the config file over stored ones of the same name', async () => {
    const pinned: AccountConfig = { name: 'cam1', passwordHash: HASH, renditionProfile: 'default', allowedNetworks: ['192.0.2.0/24'], allowDownload: false, siteChmod: false };
    const [a, b] = [node({ accounts: [pinned] }), node({ accounts: [pinned] })];
    await Promise.all([a.start(), b.start()]);
    await a.save({ name: 'cam1', passwordHash: 'scrypt$other', renditionProfile: 'default', allowedNetworks: [] });
    await b.refresh();

    for (const directory of [a, b]) {
      expect(directory.find('cam1')).toMatchObject({ passwordHash: HASH, allowedNetworks: ['192.0.2.0/24'] });
      expect(directory.list()).toHaveLength(1);
    }
    await expect(a.save({ name: 'cam2', passwordHash: HASH, renditionProfile: 'nope', allowedNetworks: [] })).rejects.toThrow('no rendition profile "nope"');
  });

  it('moves the accounts of a legacy <dataDir>/accounts.json into the store at start, where every node sees them', async () => {
    const legacyDir = mkdtempSync(path.join(root, 'legacy-'));
    writeFileSync(path.join(legacyDir, 'accounts.json'), JSON.stringify([{ name: 'old', passwordHash: HASH }]));
    const [withFile, other] = [node({ dataDir: legacyDir }), node()];

    await withFile.start();
    expect(withFile.find('old')).toMatchObject({ name: 'old', home: path.join(legacyDir, 'ftp', 'old') });
    await other.start();
    expect(other.find('old')).toMatchObject({ name: 'old', passwordHash: HASH });

    // Once the object exists the legacy file is no longer read.
    rmSync(path.join(legacyDir, 'accounts.json'));
    await other.save({ name: 'new', passwordHash: HASH, renditionProfile: 'default', allowedNetworks: [] });
    await withFile.refresh();
    expect(withFile.list().map((x) => x.name).sort()).toEqual(['new', 'old']);
  });

  it('keeps legacy accounts when a save comes before any start', async () => {
    const legacyDir = mkdtempSync(path.join(root, 'legacy-'));
    writeFileSync(path.join(legacyDir, 'accounts.json'), JSON.stringify([{ name: 'old', passwordHash: HASH }]));
    await node({ dataDir: legacyDir }).save({ name: 'new', passwordHash: HASH, renditionProfile: 'default', allowedNetworks: [] });

    const other = node();
    await other.refresh();
    expect(other.list().map((x) => x.name).sort()).toEqual(['new', 'old']);
  });

  it('refuses to start on a stored object that is not JSON or not accounts, naming the object', async () => {
    await store.put(ACCOUNTS_KEY, Buffer.from('[{"name": "cam'), 'application/json');
    const start = node().start();
    await expect(start).rejects.toBeInstanceOf(IngestError);
    await expect(start).rejects.toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringMatching(/system\/accounts\.json.*not valid JSON/) });

    await store.put(ACCOUNTS_KEY, Buffer.from(JSON.stringify([{ name: 'cam', passwordHash: 'clear-text' }])), 'application/json');
    await expect(node().start()).rejects.toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringMatching(/system\/accounts\.json: 0\.passwordHash: must be a scrypt hash/) });
  });

  it('keeps the last good list through a broken object, logging the outage once and the recovery', async () => {
    const logs: { level: number; msg: string }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line)) });
    const directory = node({ refreshMs: 50, logger });
    await directory.save({ name: 'cam9', passwordHash: HASH, renditionProfile: 'default', allowedNetworks: [] });
    await directory.start();
    const good = await store.getBuffer(ACCOUNTS_KEY);
    const reads = jest.spyOn(store, 'getBuffer');

    await store.put(ACCOUNTS_KEY, Buffer.from('garbage'), 'application/json');
    await expect(directory.refresh()).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
    await waitFor(() => reads.mock.calls.length >= 5, 5000, 'several background refreshes');
    expect(directory.find('cam9')).toMatchObject({ name: 'cam9' });

    await store.put(ACCOUNTS_KEY, good, 'application/json');
    await waitFor(() => logs.length >= 2, 5000, 'the recovery to be logged');
    expect(logs).toEqual([
      expect.objectContaining({ level: 40, component: 'accounts', msg: expect.stringContaining('keeping the last good list') }),
      expect.objectContaining({ level: 30, component: 'accounts', msg: 'accounts readable again' }),
    ]);
  });
});
