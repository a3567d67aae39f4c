import { existsSync } from 'node:fs';
import path from 'node:path';

/** The package root, whether running from source (tests) or from dist/ (npm start). */
export const PACKAGE_ROOT = ((): string => {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = parent;
  }
  return dir;
})();
