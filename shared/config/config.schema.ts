import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { availableParallelism } from 'node:os';
import { z } from 'zod';

const port = z.coerce.number().int().min(1).max(65535);
/** 0 asks the OS for a free port (tests, several instances on one host). */
const listenPort = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
/**
 * YAML gives booleans, the environment gives strings. Only "true"/"false" are accepted: zod's
 * z.coerce.boolean() turns the string "false" into true.
 */
const flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);

/** Milliseconds in one of each unit a duration may be written in. */
const DURATION_UNITS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^([1-9]\d{0,5})(s|m|h|d)$/;

/** `90s`, `15m`, `2h`, `1d` → milliseconds; null when the text is not one whole number and one unit. */
export function parseDuration(text: string): number | null {
  const match = DURATION.exec(text);
  return match ? Number(match[1]) * DURATION_UNITS[match[2] as keyof typeof DURATION_UNITS] : null;
}

const name = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$/, 'letters, digits, ".", "_" or "-", at most 64');

export const FIT_MODES = ['cover', 'contain', 'fill', 'inside', 'outside'] as const;
export const POSITIONS = ['centre', 'attention', 'entropy', 'north', 'south', 'east', 'west'] as const;
export const FORMATS = ['jpeg', 'webp', 'png', 'avif'] as const;
export const FAIL_ON = ['none', 'truncated', 'error', 'warning'] as const;
export const SERVICE_NAMES = ['ingest', 'processor', 'indexer', 'replicator', 'search'] as const;

export const renditionSchema = z
  .object({
    name,
    width: positiveInt.max(16384),
    height: positiveInt.max(16384),
    fit: z.enum(FIT_MODES).default('inside'),
    position: z.enum(POSITIONS).default('centre'),
    format: z.enum(FORMATS).default('jpeg'),
    quality: z.coerce.number().int().min(1).max(100).default(82),
    /** strip: no metadata in the rendition; keep: EXIF/ICC copied (GPS included, mind privacy). */
    metadata: z.enum(['strip', 'keep']).default('strip'),
  })
  .strict();

const cropSchema = z.union([
  z
    .object({
      box: z
        .object({
          left: z.number().min(0),
          top: z.number().min(0),
          width: z.number().positive(),
          height: z.number().positive(),
          unit: z.enum(['px', 'percent']).default('px'),
        })
        .strict()
        .refine((b) => b.unit === 'px' || (b.left + b.width <= 100 && b.top + b.height <= 100), {
          message: 'a percent box must lie within 0..100',
        }),
    })
    .strict(),
  z.object({ smart: z.object({ aspectRatio: z.number().positive() }).strict() }).strict(),
]);

const cidr = z.string().regex(/^[0-9a-fA-F:.]+(\/\d{1,3})?$/, 'an IP address or CIDR range');

export const accountSchema = z
  .object({
    name,
    /** scrypt hash as written by `cli accounts hash`; never a clear-text password. */
    passwordHash: z.string().startsWith('scrypt$', 'must be a scrypt hash from `npm run cli -- accounts hash`'),
    /** FTP root of the account; default <dataDir>/ftp/<name>. */
    home: z.string().min(1).optional(),
    /** A folder watched for files dropped by other tools (rsync, another FTP daemon). */
    dropFolder: z.string().min(1).optional(),
    crop: cropSchema.optional(),
    renditionProfile: name.default('default'),
    maxFileBytes: positiveInt.optional(),
    /** Networks allowed to log in; empty allows every address. */
    allowedNetworks: z.array(cidr).default([]),
    /** RETR of delivered files (streamed from the object store); off by default: cameras only send. */
    allowDownload: flag.default(false),
    /** SITE CHMOD on the account's files (never set-id bits); off by default. */
    siteChmod: flag.default(false),
    /**
     * How often the account's cameras send at least, e.g. `15m`, `2h`, `1d` (a whole number and s, m, h or d):
     * silent for longer, the account (and each of its camera serials) shows as quiet. Unset: learned from its history.
     */
    expectEvery: z.string().regex(DURATION, 'a whole number and a unit: s, m, h or d (e.g. 15m, 2h, 1d)').optional(),
    /**
     * Images this account delivered are erased this many days after its last delivery of them, once
     * every other account that delivered the same bytes is past its own retention too. Unset: kept.
     */
    retentionDays: positiveInt.max(36_500).optional(),
  })
  .strict();

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** Whether a listen address only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIPv4(host)) return LOOPBACK.check(host, 'ipv4');
  const bare = host.replace(/^\[|\]$/g, '');
  return isIPv6(bare) && LOOPBACK.check(bare, 'ipv6');
}

const s3Schema = z
  .object({
    /** null: AWS S3 itself. */
    endpoint: z.string().url().nullable(),
    /** The region requests are signed for (AWS's own; MinIO and Ceph RGW accept any). */
    region: z.string().min(1),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name'),
    forcePathStyle: flag,
    createBucket: flag,
    /** Parts of a multipart upload; S3 needs at least 5 MiB. */
    partSizeBytes: positiveInt.min(5 * 1024 * 1024),
    // The three below are optional so that a store in `stores` without them inherits the top-level s3's.
    /**
     * Checksums the SDK adds on its own: when_required (only where an API demands one) or when_supported
     * (every request; its streamed PUTs then go as aws-chunked with a CRC32 trailer, which Ceph RGW 16.2 refuses with 411).
     */
    checksums: z.enum(['when_required', 'when_supported']).optional(),
    /** Send the SHA-256 the caller has as x-amz-checksum-sha256 for the store to check; Ceph RGW 16.2 ignores it. */
    sendSha256: flag.optional(),
    /** Server-side encryption at rest: s3 (SSE-S3, AES256) or kms (SSE-KMS with kmsKeyId); Ceph RGW 16.2 has only kms. */
    sse: z
      .object({ mode: z.enum(['none', 's3', 'kms']), kmsKeyId: z.string().min(1).optional() })
      .strict()
      .refine((sse) => sse.mode !== 'kms' || sse.kmsKeyId !== undefined, { message: 'mode kms needs kmsKeyId' })
      .optional(),
  })
  .strict();

export const STORE_ROLES = ['primary', 'replica'] as const;

const storeSchema = z
  .object({
    /** Carried in every location of the store's objects, so the index and consumers can tell copies apart. */
    name,
    /** Where the store is (a site or cloud region, e.g. eu-west); reads prefer the request's region. */
    region: name,
    role: z.enum(STORE_ROLES),
    /** An S3-compatible store; credentials from STORE_<NAME>_ACCESS_KEY_ID / _SECRET_ACCESS_KEY, else S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY. */
    s3: s3Schema.partial({ region: true, forcePathStyle: true, createBucket: true, partSizeBytes: true }).optional(),
    /** A local folder (embedded mode, or a mounted volume). */
    local: z.object({ dir: z.string().min(1) }).strict().optional(),
  })
  .strict()
  .refine((store) => (store.s3 === undefined) !== (store.local === undefined), { message: 'needs exactly one of s3 or local' });

export const configSchema = z
  .object({
    adapters: z.enum(['embedded', 'distributed']),
    services: z.array(z.enum(SERVICE_NAMES)).min(1),
    dataDir: z.string().min(1),
    log: z.object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) }).strict(),
    ftp: z
      .object({
        host: z.string().min(1),
        port: listenPort,
        passive: z
          .object({
            host: z.string().min(1),
            minPort: port,
            maxPort: port,
            /** The address announced to clients from these networks instead of `host` (NAT: inside vs outside). */
            overrides: z.array(z.object({ network: cidr, host: z.string().min(1) }).strict()).default([]),
          })
          .strict(),
        tempNamePatterns: z.array(z.string().min(1)),
        idleTimeoutMs: positiveInt,
        tls: z
          .object({
            certFile: z.string().nullable(),
            keyFile: z.string().nullable(),
            /** Refuse USER/PASS on a control connection that is not TLS. */
            required: flag.default(false),
            /** A second port that speaks TLS from the first byte (implicit FTPS); null for none. */
            implicitPort: listenPort.nullable().default(null),
          })
          .strict(),
        /** A complete, non-temp file left in a home this long without a 226 (a crash cut its hand-over) is ingested. */
        orphanAfterMs: positiveInt,
        limits: z
          .object({
            maxConnections: positiveInt,
            maxConnectionsPerAddress: positiveInt,
            maxConnectionsPerAccount: positiveInt,
            /** Wrong passwords one control connection may send before it is closed. */
            maxLoginAttempts: positiveInt,
            /** A transfer slower than this over `slowTransferWindowMs` is ended (trickles hold ports and sessions). */
            minTransferBytesPerSecond: z.coerce.number().int().min(0),
            slowTransferWindowMs: positiveInt,
            /** How long SIGTERM lets running transfers finish before the rest hear 421. */
            drainMs: positiveInt,
          })
          .strict(),
        /** What DELE does to a delivered file: hide it from the account's view (the image is kept) or refuse. */
        dele: z.enum(['hide', 'refuse']).default('hide'),
        defender: z
          .object({
            enabled: flag,
            /** Score added per event; an address reaching `threshold` within `observationMs` is banned. */
            scores: z.object({ loginFailed: positiveInt, unknownAccount: positiveInt, abuse: positiveInt, limitExceeded: positiveInt }).strict(),
            threshold: positiveInt,
            observationMs: positiveInt,
            banMs: positiveInt,
            /** Each connection attempt while banned lengthens the ban by this share of `banMs`, up to `maxBanMs`. */
            banIncrementPercent: z.coerce.number().int().min(0).max(1000),
            maxBanMs: positiveInt,
            /** Addresses tracked at most; the oldest are forgotten first. */
            maxEntries: positiveInt,
            /** Never scored or banned (monitoring, the site's own network). */
            safeList: z.array(cidr).default([]),
            /** Failed logins per account (from outside its allowed networks) before that account refuses such addresses for `lockMs`. */
            accountLockout: z.object({ threshold: positiveInt, windowMs: positiveInt, lockMs: positiveInt }).strict(),
          })
          .strict(),
        auth: z
          .object({
            /** Every refused login is answered after this long, whatever the reason, so timing tells nothing. */
            refusalDelayMs: z.coerce.number().int().min(0),
            /** Password verifications (scrypt, 128 MiB each) run at once; more wait, and a full queue is refused with 421. */
            maxConcurrentVerifications: positiveInt.max(16),
            maxQueuedVerifications: positiveInt,
          })
          .strict(),
      })
      .strict(),
    spool: z
      .object({
        /** A spool entry's owner renews its lease; one not renewed for this long is taken over by another worker. */
        leaseMs: positiveInt.min(1000),
        /** How often entries a store or bus outage left behind are tried again. */
        redriveIntervalMs: positiveInt,
      })
      .strict(),
    consumers: z
      .object({
        /** Backoff of a consumer's transient failures: doubles from initialDelayMs up to maxDelayMs, with jitter, until it succeeds. */
        retry: z.object({ initialDelayMs: positiveInt, maxDelayMs: positiveInt }).strict(),
      })
      .strict(),
    accountSync: z
      .object({
        /** How often each process re-reads the shared accounts and API keys (system/accounts.json, system/api-keys.json in the object store). */
        refreshMs: positiveInt,
      })
      .strict(),
    http: z
      .object({
        host: z.string().min(1),
        port: listenPort,
        /**
         * key: the API and image bytes need an API key (`cli keys add`); none: open, allowed only on a
         * loopback host. Unset: none on a loopback host, key anywhere else.
         */
        auth: z.enum(['key', 'none']).optional(),
        /** How long an image URL handed out in an API answer keeps working. */
        signedUrlTtlSeconds: positiveInt.max(7 * 24 * 3600).default(3600),
        /**
         * A tile URL template (`https://tile.example/{z}/{x}/{y}.png`) the page's map draws over its
         * offline country outlines; unset, the map needs nothing from outside the search service.
         */
        mapTileUrl: z.string().regex(/^https?:\/\/(?=.*\{z\})(?=.*\{x\})(?=.*\{y\})/, 'an http(s) URL template with {z}, {x} and {y}').optional(),
      })
      .strict()
      .transform((http) => ({ ...http, auth: http.auth ?? (isLoopbackHost(http.host) ? 'none' : 'key') })),
    /**
     * The operators' port: /metrics, /readyz and /healthz without a key, for processes that do not
     * serve the search API (ingest, processor or indexer alone). null: none; the search service's own
     * port answers the same paths.
     */
    ops: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: listenPort.nullable().default(null),
        /** How long /readyz waits for each of bus, store and index before it calls that part not ready. */
        readyTimeoutMs: positiveInt.max(60_000).default(2_000),
      })
      .strict()
      .default({}),
    dropFolders: z.object({ sweepIntervalMs: positiveInt, stableMs: z.coerce.number().int().min(0) }).strict(),
    limits: z
      .object({ maxFileBytes: positiveInt, maxPixels: positiveInt, failOn: z.enum(FAIL_ON) })
      .strict(),
    processor: z
      .object({
        /** "auto": one more than the cores, so one image's I/O overlaps the others' decoding. */
        concurrency: z.union([z.literal('auto'), positiveInt.max(64)]).transform((v) => (v === 'auto' ? availableParallelism() + 1 : v)),
      })
      .strict(),
    indexer: z.object({ concurrency: positiveInt.max(256) }).strict(),
    /**
     * The embedded index's SQLite page cache, per process, in MB. Filled only as pages are read: at
     * 1M images the rows and indexes the searches read come to about 600 MB.
     */
    embeddedIndex: z.object({ cacheMB: positiveInt.min(8).max(65_536).default(512) }).strict().default({}),
    /** Images copied to the replica stores at once per process. */
    replicator: z.object({ concurrency: positiveInt.max(64) }).strict(),
    /** The sweep that erases images past their accounts' retentionDays; the indexer process runs it. */
    retention: z
      .object({
        /** How often; the first sweep waits a random share of it, so nodes started together do not sweep together. */
        sweepIntervalMs: positiveInt.min(1000).default(3_600_000),
      })
      .strict()
      .default({}),
    bus: z
      .object({
        topics: z.object({ ingested: name, processed: name, failed: name, replicated: name, erased: name }).strict(),
        /**
         * Consumer group of each consumer; members of a group share its partitions. One group per topic
         * (the indexer reads images.replicated as `replicas`): kafkajs hands a group's partitions to its
         * members as if each read every topic of the group (src/consumer/assigners/roundRobinAssigner/index.js).
         */
        groups: z.object({ processor: name, indexer: name, failures: name, replicator: name, replicas: name }).strict(),
        retentionHours: positiveInt,
      })
      .strict(),
    kafka: z
      .object({
        brokers: z.array(z.string().regex(/^[^\s:]+:\d+$/, 'host:port')).min(1),
        clientId: z.string().min(1),
        /** Used when a topic is created; existing topics keep theirs. */
        partitions: positiveInt.max(1000),
        replicationFactor: positiveInt.max(10),
        sessionTimeoutMs: positiveInt,
        heartbeatIntervalMs: positiveInt,
        rebalanceTimeoutMs: positiveInt,
      })
      .strict(),
    /** The primary S3 store when `stores` is not given (distributed adapters). */
    s3: s3Schema.extend({ /** Name carried in event locations, so consumers can tell stores apart. */ name }).strict(),
    /**
     * Every store an image is kept in, each in a region: one primary (ingest and processor write there)
     * and any number of replicas (the replicator copies to them; search reads from the nearest healthy one).
     * Empty: one primary, the `s3` store (distributed) or <dataDir>/objects (embedded).
     */
    stores: z.array(storeSchema).default([]),
    /** The search service's heartbeat of every store: reads go to stores marked up first, and /readyz needs one. */
    storeHealth: z
      .object({
        /** Time between heartbeats (a ping of each store). */
        intervalMs: positiveInt.min(100).default(2_000),
        /** A ping that has not answered by then fails the heartbeat; must be below intervalMs. */
        timeoutMs: positiveInt.default(1_000),
        /** Failed heartbeats in a row that mark a store down. */
        downAfter: positiveInt.max(100).default(2),
        /** Answered heartbeats in a row that mark a down store up again. */
        upAfter: positiveInt.max(100).default(2),
      })
      .strict()
      .default({}),
    elasticsearch: z
      .object({
        node: z.string().url(),
        /** Images live in this index; dead letters in <index>-failures. */
        index: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'a lower-case index name'),
        replicas: z.coerce.number().int().min(0).max(10),
        shards: positiveInt.max(100),
        /** false: visible after the next refresh (1 s); wait_for: each bulk waits for it. */
        refresh: z.enum(['false', 'wait_for']),
        /** Upserts gathered into one _bulk request at most this long. */
        bulkWindowMs: z.coerce.number().int().min(0).max(1000),
        /**
         * The write index rolls over to a new backing index when its largest primary shard reaches
         * maxPrimaryShardSize or it is maxAge old, whichever comes first (Elasticsearch's own units).
         */
        rollover: z
          .object({
            maxPrimaryShardSize: z.string().regex(/^[1-9][0-9]*(b|kb|mb|gb|tb|pb)$/, 'a size such as 50gb (b, kb, mb, gb, tb, pb)'),
            maxAge: z.string().regex(/^[1-9][0-9]*(d|h|m|s|ms)$/, 'a duration such as 30d (d, h, m, s, ms)'),
            /** The conditions are checked on start and before a bulk write at most this often. */
            checkIntervalMs: z.coerce.number().int().min(0),
          })
          .strict(),
      })
      .strict(),
    renditionProfiles: z.record(name, z.array(renditionSchema).min(1)),
    accounts: z.array(accountSchema),
  })
  .strict()
  .superRefine((config, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    if (config.kafka.heartbeatIntervalMs >= config.kafka.sessionTimeoutMs) {
      issue(['kafka', 'heartbeatIntervalMs'], 'must be below kafka.sessionTimeoutMs');
    }
    if (config.consumers.retry.initialDelayMs > config.consumers.retry.maxDelayMs) {
      issue(['consumers', 'retry', 'initialDelayMs'], 'must not exceed consumers.retry.maxDelayMs');
    }
    if (config.stores.length > 0) {
      const primaries = config.stores.filter((s) => s.role === 'primary').length;
      if (primaries !== 1) issue(['stores'], `needs exactly one store with role primary, not ${primaries}`);
      const names = new Set<string>();
      config.stores.forEach((s, i) => {
        if (names.has(s.name)) issue(['stores', i, 'name'], `duplicate store "${s.name}"`);
        names.add(s.name);
      });
    }
    if (config.storeHealth.timeoutMs >= config.storeHealth.intervalMs) {
      issue(['storeHealth', 'timeoutMs'], 'must be below storeHealth.intervalMs');
    }
    if (config.ftp.passive.minPort > config.ftp.passive.maxPort) {
      issue(['ftp', 'passive', 'minPort'], 'must not exceed ftp.passive.maxPort');
    }
    if (config.http.auth === 'none' && !isLoopbackHost(config.http.host)) {
      issue(['http', 'auth'], `none is allowed only when http.host is a loopback address, not "${config.http.host}"; use key`);
    }
    if (config.ftp.port !== 0 && config.ftp.port === config.http.port && config.ftp.host === config.http.host) {
      issue(['http', 'port'], 'must differ from ftp.port');
    }
    if (config.ops.port) {
      if (config.ops.port === config.ftp.port) issue(['ops', 'port'], 'must differ from ftp.port');
      if (config.ops.port === config.http.port && config.services.includes('search')) issue(['ops', 'port'], 'must differ from http.port');
    }
    if ((config.ftp.tls.certFile === null) !== (config.ftp.tls.keyFile === null)) {
      issue(['ftp', 'tls'], 'certFile and keyFile go together');
    }
    if (config.ftp.tls.certFile === null && (config.ftp.tls.required || config.ftp.tls.implicitPort !== null)) {
      issue(['ftp', 'tls', config.ftp.tls.required ? 'required' : 'implicitPort'], 'needs ftp.tls.certFile and keyFile');
    }
    for (const [profile, renditions] of Object.entries(config.renditionProfiles)) {
      const seen = new Set<string>();
      renditions.forEach((r, i) => {
        if (seen.has(r.name)) issue(['renditionProfiles', profile, i, 'name'], `duplicate rendition "${r.name}"`);
        seen.add(r.name);
      });
    }
    const accounts = new Set<string>();
    config.accounts.forEach((a, i) => {
      if (accounts.has(a.name)) issue(['accounts', i, 'name'], `duplicate account "${a.name}"`);
      accounts.add(a.name);
      if (!config.renditionProfiles[a.renditionProfile]) {
        issue(['accounts', i, 'renditionProfile'], `no rendition profile "${a.renditionProfile}"`);
      }
    });
  });

export type Config = z.infer<typeof configSchema>;
export type AccountConfig = z.infer<typeof accountSchema>;
/** An account as written by hand or the CLI: defaults not yet applied. */
export type AccountInput = z.input<typeof accountSchema>;
export type RenditionConfig = z.infer<typeof renditionSchema>;
export type CropConfig = NonNullable<AccountConfig['crop']>;
export type ServiceName = (typeof SERVICE_NAMES)[number];
