import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { API_KEYS_KEY, ApiKeyDirectory, generateApiKey, hashApiKey, roleAllows } from '../../shared/api-keys';
import { LocalObjectStore } from '../../shared/adapters/local-object-store.adapter';
import { keysCommand } from '../../services/cli/keys.command';
import { waitFor } from '../helpers/wait';

const store = () => new LocalObjectStore(path.join(mkdtempSync(path.join(tmpdir(), 'keys-')), 'objects'));

describe('API keys', () => {
  it('are long random strings whose SHA-256 is what gets compared', () => {
    const key = generateApiKey();
    expect(key).toMatch(/^iik_[A-Za-z0-9_-]{43}$/);
    expect(generateApiKey()).not.toBe(key);
    expect(hashApiKey(key)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashApiKey(key)).toBe(hashApiKey(key));
    expect(hashApiKey(`${key}x`)).not.toBe(hashApiKey(key));
  });

  it('are stored as hashes only, and verify only the exact key', async () => {
    const s = store();
    const directory = new ApiKeyDirectory(s);
    const { key, record } = await directory.add('alice', 'analyst');
    const stored = (await s.getBuffer(API_KEYS_KEY)).toString('utf8');
    expect(stored).not.toContain(key);
    expect(stored).not.toContain(key.slice(4, -4));
    expect(JSON.parse(stored)).toEqual([{ name: 'alice', role: 'analyst', hash: hashApiKey(key), createdAt: record.createdAt, last4: key.slice(-4) }]);
    expect(directory.verify(key)).toMatchObject({ name: 'alice', role: 'analyst' });
    expect(directory.verify(key.slice(0, -1))).toBeNull();
    expect(directory.verify(`${key} `)).toBeNull();
    expect(directory.verify(hashApiKey(key))).toBeNull();
  });

  it('refuses a second key under a taken name', async () => {
    const directory = new ApiKeyDirectory(store());
    await directory.add('bob', 'operator');
    await expect(directory.add('bob', 'analyst')).rejects.toThrow(/exists/);
  });

  it('lets operators do what analysts do, not the other way round', () => {
    expect(roleAllows('operator', 'analyst')).toBe(true);
    expect(roleAllows('operator', 'operator')).toBe(true);
    expect(roleAllows('analyst', 'analyst')).toBe(true);
    expect(roleAllows('analyst', 'operator')).toBe(false);
  });

  it('reach another node through the store: a key revoked with the CLI is refused there within the refresh', async () => {
    const s = store();
    const node = new ApiKeyDirectory(s, { refreshMs: 50 });
    await node.start();
    try {
      const [key] = (await keysCommand(s, ['add', 'carol', '--role', 'operator'])).stdout;
      await waitFor(() => node.verify(key) !== null, 5_000, 'new key seen');
      const listed = (await keysCommand(s, ['list'])).stdout;
      expect(listed).toEqual([expect.stringMatching(new RegExp(`^carol\\trole=operator\\tcreated=\\S+\\tends=…${key.slice(-4)}$`))]);
      expect(listed.join('\n')).not.toContain(key);
      await keysCommand(s, ['revoke', 'carol']);
      await waitFor(() => node.verify(key) === null, 5_000, 'revoked key refused');
      await expect(keysCommand(s, ['revoke', 'carol'])).rejects.toThrow(/no API key named "carol"/);
    } finally {
      await node.stop();
    }
  });

  it('refuses to add a key without a known role', async () => {
    await expect(keysCommand(store(), ['add', 'dave', '--role', 'admin'])).rejects.toThrow(/--role must be one of analyst, operator/);
    await expect(keysCommand(store(), ['add', 'dave'])).rejects.toThrow(/--role/);
  });

  it('fail loudly on a corrupt stored list', async () => {
    const s = store();
    await s.put(API_KEYS_KEY, Buffer.from('[{"name":"x"}]'), 'application/json');
    await expect(new ApiKeyDirectory(s).start()).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
  });
});
