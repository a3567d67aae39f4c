import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SqliteDeliveryRecord } from '../../shared/adapters/sqlite-delivery-record.adapter';
import { deliveryRecordContract } from './delivery-record.contract';

deliveryRecordContract('SQLite (embedded)', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'deliveries-'));
  let n = 0;
  return {
    async create() {
      const file = path.join(dir, `deliveries-${n++}.sqlite`);
      return { record: new SqliteDeliveryRecord(file), another: () => new SqliteDeliveryRecord(file) };
    },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
