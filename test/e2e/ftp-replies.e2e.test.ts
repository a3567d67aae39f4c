import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Client, FTPError } from 'basic-ftp';
import type { Account, AccountDirectory } from '../../shared/accounts';
import { LocalObjectStore } from '../../shared/adapters/local-object-store.adapter';
import { SqliteDeliveryRecord } from '../../shared/adapters/sqlite-delivery-record.adapter';
import { IngestError } from '../../shared/errors';
import { FtpIngestServer } from '../../services/ingest/ftp.server';
import type { IngestOutcome, IngestService } from '../../services/ingest/ingest.service';
import { FakeGate, PASSWORD, capturingLogger, testAccount, testFtpConfig } from '../helpers/ftp-server';

const BACKEND_FAULT = 'cannot write originals/ab/cd/x.jpg: connect ECONNREFUSED 127.0.0.1:19000';

describe('FTP replies to uploads that are not taken', () => {
  let dataDir: string;
  let server: FtpIngestServer;
  let deliveries: SqliteDeliveryRecord;
  let accept: jest.Mock<Promise<IngestOutcome>, Parameters<IngestService['accept']>>;
  const logLines: Record<string, unknown>[] = [];
  const clients: Client[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'ftp-replies-'));
    const config = testFtpConfig(dataDir);
    const account = (name: string, extra: Partial<Account> = {}) => testAccount(dataDir, name, extra);
    const list = [account('cam1'), account('small', { maxFileBytes: 5 })];
    // A minimal directory: the server only looks accounts up by name.
    const accounts = { find: (name: string) => list.find((a) => a.name === name), list: () => list } as unknown as AccountDirectory;
    accept = jest.fn();
    deliveries = new SqliteDeliveryRecord(path.join(dataDir, 'deliveries.sqlite'));
    const store = new LocalObjectStore(path.join(dataDir, 'objects'));
    const gate = new FakeGate(list);
    server = new FtpIngestServer({ config, accounts, ingest: { accept } as unknown as IngestService, logger: capturingLogger(logLines), deliveries, store, gate });
    await server.listen();
  });

  afterEach(() => accept.mockReset());

  afterAll(async () => {
    // Server first: a session the client ends leaves ftp-srv a timer (idleTimeoutMs) that holds the process open.
    await server.close();
    await deliveries.close();
    clients.forEach((c) => c.close());
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function ftp(user = 'cam1'): Promise<Client> {
    const client = new Client(10_000);
    clients.push(client);
    await client.access({ host: '127.0.0.1', port: server.port, user, password: PASSWORD });
    return client;
  }

  async function failure(attempt: Promise<unknown>): Promise<FTPError> {
    const error = await attempt.then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(FTPError);
    return error as FTPError;
  }

  /** A reply never names object keys, backend addresses or where the server keeps files. */
  function expectPublic(reply: string): void {
    for (const secret of ['ECONNREFUSED', '127.0.0.1:19000', 'originals/', dataDir]) expect(reply).not.toContain(secret);
  }

  const upload = async (client: Client, name: string) => client.uploadFrom(Readable.from([Buffer.from('image bytes')]), name);

  it('answers a store outage with 451 and the code, kept for later ingest, without the backend detail', async () => {
    accept.mockRejectedValue(new IngestError('STORE_UNAVAILABLE', BACKEND_FAULT, { retriable: true }));
    const error = await failure(upload(await ftp(), 'IMG_0001.JPG'));
    expect(error.code).toBe(451);
    expect(error.message).toBe('451 STORE_UNAVAILABLE: storage is unavailable; the upload is kept and will be ingested, no need to resend');
    expectPublic(error.message);
    // The operator still sees what happened, and where.
    expect(logLines).toContainEqual(expect.objectContaining({ level: 40, msg: 'upload not taken', code: 'STORE_UNAVAILABLE', path: '/IMG_0001.JPG', err: BACKEND_FAULT }));
  });

  it('answers a refused file with 550 and the code and reason', async () => {
    accept.mockResolvedValue({ status: 'rejected', code: 'UNSUPPORTED_TYPE', reason: 'not a JPEG, PNG, TIFF, WebP or HEIC image' });
    const error = await failure(upload(await ftp(), 'notes.jpg'));
    expect(error.code).toBe(550);
    expect(error.message).toBe('550 UNSUPPORTED_TYPE: not a JPEG, PNG, TIFF, WebP or HEIC image');
  });

  it('answers an unexpected error with 451 INTERNAL_ERROR and a fixed text', async () => {
    accept.mockRejectedValue(new TypeError(`Cannot read properties of undefined (reading 'key') at ${dataDir}/spool/1.data`));
    const error = await failure(upload(await ftp(), 'odd.jpg'));
    expect(error.message).toBe('451 INTERNAL_ERROR: internal error; send the file again later');
    expectPublic(error.message);
    expect(logLines).toContainEqual(expect.objectContaining({ level: 50, path: '/odd.jpg', err: expect.stringContaining('reading') }));
  });

  it('answers the final RNTO of a temp name with 451 when the bus is down', async () => {
    const client = await ftp();
    await upload(client, 'IMG_0002.JPG.part');
    expect(accept).not.toHaveBeenCalled();
    accept.mockRejectedValue(new IngestError('BUS_UNAVAILABLE', 'cannot publish to images.ingested: connect ECONNREFUSED 127.0.0.1:19000', { retriable: true }));
    const error = await failure(client.rename('IMG_0002.JPG.part', 'IMG_0002.JPG'));
    expect(error.code).toBe(451);
    expect(error.message).toMatch(/^451 BUS_UNAVAILABLE: event bus is unavailable; /);
    expectPublic(error.message);
    expect(accept).toHaveBeenCalledWith(path.join(dataDir, 'ftp', 'cam1', 'IMG_0002.JPG'), expect.objectContaining({ path: '/IMG_0002.JPG' }), expect.anything());
  });

  it('refuses an upload over the account\'s size limit with 550 FILE_TOO_LARGE', async () => {
    const error = await failure(upload(await ftp('small'), 'big.jpg'));
    expect(error.message).toBe('550 FILE_TOO_LARGE: upload exceeds 5 bytes');
    expect(accept).not.toHaveBeenCalled();
  });

  it('refuses a name that climbs out of the home with 550 without echoing a server path', async () => {
    const error = await failure(upload(await ftp(), '../../escape.jpg'));
    expect(error.message).toMatch(/^550 NAME_NOT_ALLOWED: /);
    expectPublic(error.message);
  });

  it('answers 226 once ingest has taken the upload', async () => {
    accept.mockResolvedValue({ status: 'ingested', id: 'ab'.repeat(32), key: 'originals/ab/ab/x.jpg', bytes: 11, contentType: 'image/jpeg', duplicate: false });
    const response = await upload(await ftp(), 'fine.jpg');
    expect(response.code).toBe(226);
  });
});
