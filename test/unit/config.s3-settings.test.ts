import { loadConfig } from '../../shared/config/config.loader';

describe('configuration of the S3 stores: checksums, SHA-256 and encryption at rest', () => {
  it('defaults to checksums only when required, the SHA-256 sent, and no encryption', () => {
    expect(loadConfig({ env: {} }).s3).toMatchObject({ checksums: 'when_required', sendSha256: true, sse: { mode: 'none' } });
  });

  it('takes them from the environment', () => {
    const { s3 } = loadConfig({ env: { S3_CHECKSUMS: 'when_supported', S3_SEND_SHA256: 'false', S3_SSE: 'kms', S3_SSE_KMS_KEY_ID: 'images-key' } });
    expect(s3).toMatchObject({ checksums: 'when_supported', sendSha256: false, sse: { mode: 'kms', kmsKeyId: 'images-key' } });
  });

  it('refuses SSE-KMS without a key id, and an unknown mode, naming the key', () => {
    expect(() => loadConfig({ env: { S3_SSE: 'kms' } })).toThrow(/s3\.sse: mode kms needs kmsKeyId/);
    expect(() => loadConfig({ env: { S3_SSE: 'aes' } })).toThrow(/s3\.sse\.mode/);
    expect(() => loadConfig({ env: { S3_CHECKSUMS: 'always' } })).toThrow(/s3\.checksums/);
  });

  it('leaves them out of a store that does not set them, so the store inherits the top-level s3 settings', () => {
    const config = loadConfig({
      env: { S3_SSE: 's3' },
      overrides: {
        adapters: 'distributed',
        stores: [
          { name: 'minio', region: 'eu-west', role: 'primary', s3: { endpoint: 'http://127.0.0.1:19000', bucket: 'images' } },
          { name: 'rgw', region: 'eu-central', role: 'replica', s3: { endpoint: 'http://127.0.0.1:19480', bucket: 'images', sendSha256: false, sse: { mode: 'kms', kmsKeyId: 'k' } } },
        ],
      },
    });
    const [minio, rgw] = config.stores.map((store) => ({ ...config.s3, ...store.s3 }));
    expect(minio).toMatchObject({ sse: { mode: 's3' }, sendSha256: true, checksums: 'when_required' });
    expect(rgw).toMatchObject({ sse: { mode: 'kms', kmsKeyId: 'k' }, sendSha256: false });
  });
});
