import { parseArgs } from 'node:util';
import { API_KEYS_KEY, API_ROLES, ApiKeyDirectory, type ApiRole } from '../../shared/api-keys';
import type { ObjectStore } from '../../shared/ports/object-store.port';

export const KEYS_USAGE = `  npm run cli -- keys add <name> --role analyst|operator   (prints the key once)
  npm run cli -- keys list
  npm run cli -- keys revoke <name>`;

/**
 * `cli keys add|list|revoke` against the store the search nodes read, so a key added or revoked here
 * counts on every node within accountSync.refreshMs. Returns what to print: a new key alone on
 * stdout (so `KEY=$(npm run -s cli -- keys add ...)` works), notes on stderr.
 */
export async function keysCommand(store: ObjectStore, args: string[]): Promise<{ stdout: string[]; stderr: string[] }> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { role: { type: 'string' } } });
  const [command, name] = positionals;
  const directory = new ApiKeyDirectory(store);
  if (command === 'list' && !name) {
    await directory.refresh();
    // Never the key: only what tells keys apart.
    return { stdout: directory.list().map((k) => `${k.name}\trole=${k.role}\tcreated=${k.createdAt}\tends=…${k.last4}`), stderr: [] };
  }
  if (command === 'add' && name) {
    if (!API_ROLES.includes(values.role as ApiRole)) throw new Error(`--role must be one of ${API_ROLES.join(', ')}\n${KEYS_USAGE}`);
    const { key } = await directory.add(name, values.role as ApiRole);
    return { stdout: [key], stderr: [`API key "${name}" (${values.role}) saved in ${store.locate(API_KEYS_KEY).url}; it is shown only this once`] };
  }
  if (command === 'revoke' && name) {
    if (!(await directory.revoke(name))) throw new Error(`no API key named "${name}"`);
    return { stdout: [], stderr: [`API key "${name}" revoked; every search node refuses it within accountSync.refreshMs`] };
  }
  throw new Error(`usage:\n${KEYS_USAGE}`);
}
