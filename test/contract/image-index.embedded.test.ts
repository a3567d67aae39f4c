import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SqliteImageIndex } from '../../shared/adapters/sqlite-image-index.adapter';
import { imageIndexContract } from './image-index.contract';

imageIndexContract('SQLite FTS5 (embedded)', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'index-'));
  let n = 0;
  return {
    create: async () => new SqliteImageIndex(path.join(dir, `index-${n++}.sqlite`)),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
