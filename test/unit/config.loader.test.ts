import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../shared/config/config.loader';

describe('configuration', () => {
  it('starts from config/default.yaml with the documented defaults', () => {
    const config = loadConfig({ env: {} });
    expect(config.ftp.port).toBe(2121);
    expect(config.http.port).toBe(8080);
    expect(config.ftp.host).toBe('127.0.0.1');
    expect(config.http.host).toBe('127.0.0.1');
    expect(config.dataDir).toBe(path.resolve('data'));
    expect(config.renditionProfiles.default.map((r) => r.name)).toEqual(['thumb', 'preview']);
    expect(Object.isFrozen(config.ftp)).toBe(true);
  });

  it('lets the environment override ports, hosts and the data folder', () => {
    const config = loadConfig({ env: { FTP_PORT: '2200', HTTP_PORT: '9000', DATA_DIR: '/srv/ingest', FTP_HOST: '0.0.0.0', HTTP_HOST: '::', SERVICES: 'ingest, search' } });
    expect(config.ftp.port).toBe(2200);
    expect(config.http.port).toBe(9000);
    expect(config.dataDir).toBe('/srv/ingest');
    expect(config.ftp.host).toBe('0.0.0.0');
    expect(config.http.host).toBe('::');
    expect(config.services).toEqual(['ingest', 'search']);
  });

  it('merges CONFIG_FILE over the defaults, replacing lists', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'config-')), 'site.yaml');
    writeFileSync(file, 'limits:\n  maxPixels: 5000000\nftp:\n  tempNamePatterns: ["*.upload"]\n');
    const config = loadConfig({ env: { CONFIG_FILE: file } });
    expect(config.limits.maxPixels).toBe(5_000_000);
    expect(config.limits.failOn).toBe('error');
    expect(config.ftp.tempNamePatterns).toEqual(['*.upload']);
  });

  it('names every bad key in one error', () => {
    expect(() => loadConfig({ env: { FTP_PORT: 'twenty', HTTP_PORT: '70000' }, overrides: { limits: { failOn: 'sometimes' } } })).toThrow(
      /ftp\.port: .*\n.*http\.port: .*\n.*limits\.failOn: /s,
    );
  });

  it('checks rules that span fields', () => {
    expect(() => loadConfig({ env: {}, overrides: { ftp: { passive: { minPort: 31000, maxPort: 30000 } } } })).toThrow(/ftp\.passive\.minPort: must not exceed/);
    expect(() => loadConfig({ env: {}, overrides: { accounts: [{ name: 'a', passwordHash: 'scrypt$x', renditionProfile: 'missing' }] } })).toThrow(
      /accounts\.0\.renditionProfile: no rendition profile "missing"/,
    );
    expect(() => loadConfig({ env: {}, overrides: { accounts: [{ name: 'a', passwordHash: 'hunter2' }] } })).toThrow(/accounts\.0\.passwordHash/);
    expect(() => loadConfig({ env: {}, overrides: { unknownKey: 1 } })).toThrow(/unrecognized key/i);
  });

  it('says which file it could not read', () => {
    expect(() => loadConfig({ env: { CONFIG_FILE: '/nonexistent/site.yaml' } })).toThrow(/CONFIG_FILE: cannot read \/nonexistent\/site.yaml/);
  });

  it('reads boolean values strictly: "false" means false, anything but true/false is refused', () => {
    expect(loadConfig({ env: { S3_FORCE_PATH_STYLE: 'false' } }).s3.forcePathStyle).toBe(false);
    expect(loadConfig({ env: { S3_FORCE_PATH_STYLE: 'true' } }).s3.forcePathStyle).toBe(true);
    expect(loadConfig({ env: {}, overrides: { s3: { createBucket: false } } }).s3.createBucket).toBe(false);
    expect(() => loadConfig({ env: { S3_FORCE_PATH_STYLE: 'no' } })).toThrow(/s3\.forcePathStyle/);
  });

  it('names consumer groups and keeps a heartbeat below the Kafka session timeout', () => {
    const config = loadConfig({ env: {}, overrides: { bus: { groups: { processor: 'site-a.processor' } } } });
    expect(config.bus.groups).toEqual({ processor: 'site-a.processor', indexer: 'indexer', failures: 'indexer-failures', replicator: 'replicator', replicas: 'indexer-replicas' });
    expect(config.kafka.heartbeatIntervalMs).toBeLessThan(config.kafka.sessionTimeoutMs);
    expect(() => loadConfig({ env: {}, overrides: { consumers: { retry: { initialDelayMs: 5000, maxDelayMs: 100 } } } })).toThrow(/consumers\.retry\.initialDelayMs/);
  });
  it('leaves the API open only on a loopback bind and refuses http.auth none anywhere else', () => {
    expect(loadConfig({ env: {} }).http).toMatchObject({ auth: 'none', signedUrlTtlSeconds: 3600 });
    expect(loadConfig({ env: { HTTP_HOST: '::1', HTTP_AUTH: 'none' } }).http.auth).toBe('none');
    expect(loadConfig({ env: { HTTP_HOST: '127.0.0.2', HTTP_AUTH: 'none' } }).http.auth).toBe('none');
    // Unset on a public bind means keys, never open.
    expect(loadConfig({ env: { HTTP_HOST: '0.0.0.0' } }).http.auth).toBe('key');
    expect(loadConfig({ env: {}, overrides: { http: { auth: 'key' } } }).http.auth).toBe('key');
    for (const host of ['0.0.0.0', '::', '192.0.2.10', 'search.example.org']) {
      expect(() => loadConfig({ env: { HTTP_HOST: host, HTTP_AUTH: 'none' } })).toThrow(/http\.auth: none is allowed only when http\.host is a loopback address/);
    }
    expect(() => loadConfig({ env: { HTTP_AUTH: 'open' } })).toThrow(/http\.auth: /);
  });

  it('rolls Elasticsearch over at 50gb or 30 days unless the environment or a file says otherwise, in Elasticsearch units', () => {
    expect(loadConfig({ env: {} }).elasticsearch.rollover).toEqual({ maxPrimaryShardSize: '50gb', maxAge: '30d', checkIntervalMs: 600000 });
    const config = loadConfig({ env: { ELASTICSEARCH_ROLLOVER_MAX_PRIMARY_SHARD_SIZE: '20gb', ELASTICSEARCH_ROLLOVER_MAX_AGE: '7d' }, overrides: { elasticsearch: { rollover: { checkIntervalMs: 60000 } } } });
    expect(config.elasticsearch.rollover).toEqual({ maxPrimaryShardSize: '20gb', maxAge: '7d', checkIntervalMs: 60000 });
    expect(config.elasticsearch.shards).toBe(1);
    expect(() => loadConfig({ env: { ELASTICSEARCH_ROLLOVER_MAX_PRIMARY_SHARD_SIZE: '50 GB', ELASTICSEARCH_ROLLOVER_MAX_AGE: '1 month' } })).toThrow(
      /elasticsearch\.rollover\.maxPrimaryShardSize: .*\n.*elasticsearch\.rollover\.maxAge: /s,
    );
    expect(() => loadConfig({ env: { ELASTICSEARCH_ROLLOVER_MAX_AGE: '0d' } })).toThrow(/elasticsearch\.rollover\.maxAge/);
  });
});
