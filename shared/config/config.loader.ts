import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ZodIssue } from 'zod';
import { IngestError } from '../errors';
import { PACKAGE_ROOT } from '../paths';
import { configSchema, type Config } from './config.schema';

/** Environment variables that override a config key; documented in README.md. */
const ENV_OVERRIDES: Record<string, { key: string; list?: boolean }> = {
  ADAPTERS: { key: 'adapters' },
  SERVICES: { key: 'services', list: true },
  DATA_DIR: { key: 'dataDir' },
  LOG_LEVEL: { key: 'log.level' },
  FTP_HOST: { key: 'ftp.host' },
  FTP_PORT: { key: 'ftp.port' },
  FTP_PASV_HOST: { key: 'ftp.passive.host' },
  FTP_PASV_MIN_PORT: { key: 'ftp.passive.minPort' },
  FTP_PASV_MAX_PORT: { key: 'ftp.passive.maxPort' },
  HTTP_HOST: { key: 'http.host' },
  HTTP_PORT: { key: 'http.port' },
  HTTP_AUTH: { key: 'http.auth' },
  KAFKA_BROKERS: { key: 'kafka.brokers', list: true },
  KAFKA_PARTITIONS: { key: 'kafka.partitions' },
  ELASTICSEARCH_URL: { key: 'elasticsearch.node' },
  ELASTICSEARCH_INDEX: { key: 'elasticsearch.index' },
  ELASTICSEARCH_REPLICAS: { key: 'elasticsearch.replicas' },
  ELASTICSEARCH_ROLLOVER_MAX_PRIMARY_SHARD_SIZE: { key: 'elasticsearch.rollover.maxPrimaryShardSize' },
  ELASTICSEARCH_ROLLOVER_MAX_AGE: { key: 'elasticsearch.rollover.maxAge' },
  S3_NAME: { key: 's3.name' },
  S3_ENDPOINT: { key: 's3.endpoint' },
  S3_REGION: { key: 's3.region' },
  S3_BUCKET: { key: 's3.bucket' },
  S3_FORCE_PATH_STYLE: { key: 's3.forcePathStyle' },
  S3_CHECKSUMS: { key: 's3.checksums' },
  S3_SEND_SHA256: { key: 's3.sendSha256' },
  S3_SSE: { key: 's3.sse.mode' },
  S3_SSE_KMS_KEY_ID: { key: 's3.sse.kmsKeyId' },
};

const DEFAULT_FILE = path.join(PACKAGE_ROOT, 'config', 'default.yaml');

type Tree = Record<string, unknown>;

function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Objects merge key by key; arrays and scalars replace, so a file can shorten a list. */
function merge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [key, value] of Object.entries(over)) {
    out[key] = isTree(value) && isTree(base[key]) ? merge(base[key] as Tree, value) : value;
  }
  return out;
}

function setPath(tree: Tree, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  let node = tree;
  for (const key of keys.slice(0, -1)) {
    if (!isTree(node[key])) node[key] = {};
    node = node[key] as Tree;
  }
  node[keys[keys.length - 1]] = value;
}

function readYaml(file: string, label: string): Tree {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new IngestError('INVALID_CONFIG', `${label}: cannot read ${file}`, { cause: error });
  }
  const parsed: unknown = parseYaml(text) ?? {};
  if (!isTree(parsed)) throw new IngestError('INVALID_CONFIG', `${label}: ${file} is not a YAML mapping`);
  return parsed;
}

function describe(issue: ZodIssue): string {
  return `${issue.path.join('.') || '(root)'}: ${issue.message}`;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Merged over the files and the environment; tests use it instead of writing YAML. */
  overrides?: Tree;
  defaultFile?: string;
}

/**
 * Builds the one validated, frozen configuration: config/default.yaml, then CONFIG_FILE, then the
 * environment, then `overrides`. Every bad key is named in one error so an operator fixes them in one go.
 */
export function loadConfig(options: LoadOptions = {}): Readonly<Config> {
  const env = options.env ?? process.env;
  let tree = readYaml(options.defaultFile ?? DEFAULT_FILE, 'config/default.yaml');
  if (env.CONFIG_FILE) tree = merge(tree, readYaml(env.CONFIG_FILE, 'CONFIG_FILE'));
  for (const [variable, { key, list }] of Object.entries(ENV_OVERRIDES)) {
    const raw = env[variable];
    if (raw === undefined || raw === '') continue;
    setPath(tree, key, list ? raw.split(',').map((s) => s.trim()) : raw);
  }
  if (options.overrides) tree = merge(tree, options.overrides);

  const result = configSchema.safeParse(tree);
  if (!result.success) {
    const lines = result.error.issues.map(describe);
    throw new IngestError('INVALID_CONFIG', `invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const config = result.data;
  config.dataDir = path.resolve(config.dataDir);
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}
