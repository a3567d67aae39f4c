import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ACCOUNTS_KEY, AccountDirectory } from '../../shared/accounts';
import { S3ObjectStore } from '../../shared/adapters/s3-object-store.adapter';
import { loadConfig } from '../../shared/config/config.loader';
import { waitFor } from '../helpers/wait';
import { stackEnv } from '../helpers/stack';

const HASH = 'scrypt$131072$8$1$c2FsdA==$aGFzaA==';

/** Two ingest nodes: each its own data folder and S3 client, one bucket between them. */
describe('accounts shared through MinIO', () => {
  const bucket = `accounts-${randomUUID().slice(0, 8)}`;
  const root = mkdtempSync(path.join(tmpdir(), 'accounts-s3-'));
  const stores: S3ObjectStore[] = [];
  const directories: AccountDirectory[] = [];

  function node(refreshMs: number): { directory: AccountDirectory; store: S3ObjectStore } {
    const env = stackEnv();
    const store = new S3ObjectStore({
      name: 'minio',
      endpoint: env.S3_ENDPOINT,
      region: env.S3_REGION,
      bucket,
      forcePathStyle: true,
      createBucket: true,
      partSizeBytes: 5 * 1024 * 1024,
      credentials: { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY },
    });
    const config = loadConfig({ env: {}, overrides: { dataDir: mkdtempSync(path.join(root, 'node-')), accounts: [] } });
    const directory = new AccountDirectory(config, store, { refreshMs });
    stores.push(store);
    directories.push(directory);
    return { directory, store };
  }

  afterEach(async () => {
    await Promise.all(directories.splice(0).map((d) => d.stop()));
    if (stores[0]) await stores[0].delete(ACCOUNTS_KEY);
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('finds an account saved on one node on the other after a refresh', async () => {
    const [a, b] = [node(60_000).directory, node(60_000).directory];
    await Promise.all([a.start(), b.start()]);
    await a.save({ name: 'cam9', passwordHash: HASH, renditionProfile: 'default', allowedNetworks: [] });

    expect(b.find('cam9')).toBeNull();
    await b.refresh();
    expect(b.find('cam9')).toMatchObject({ name: 'cam9', passwordHash: HASH });
  });

  it('lets an account saved on one node in on the other within the refresh interval', async () => {
    const [a, b] = [node(50).directory, node(50).directory];
    await Promise.all([a.start(), b.start()]);
    await a.save({ name: 'late', passwordHash: HASH, renditionProfile: 'default', allowedNetworks: [] });

    await waitFor(() => b.find('late') ?? undefined, 10_000, 'the other node to see the account');
  });

  it('stops a starting node on a broken accounts object and leaves a running node on its last good list', async () => {
    const [a, b] = [node(50), node(60_000)];
    await a.directory.save({ name: 'cam9', passwordHash: HASH, renditionProfile: 'default', allowedNetworks: [] });
    await a.directory.start();

    await a.store.put(ACCOUNTS_KEY, Buffer.from('{"not": "a list"}'), 'application/json');
    await expect(b.directory.start()).rejects.toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining(ACCOUNTS_KEY) });
    await expect(a.directory.refresh()).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
    expect(a.directory.find('cam9')).toMatchObject({ name: 'cam9' });
  });
});
