import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { TopicRole } from '../../shared/contracts/events';
import { PACKAGE_ROOT } from '../../shared/paths';

const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats(ajv);

/** Throws, naming the schema errors, when `value` is not a valid event of `role` per the published JSON Schema. */
export function assertEvent(role: TopicRole, value: unknown): void {
  const file = path.join(PACKAGE_ROOT, 'shared', 'contracts', 'schemas', `images.${role}.v1.json`);
  const validate = ajv.getSchema(file) ?? (ajv.addSchema(require(file), file), ajv.getSchema(file)!);
  if (!validate(value)) throw new Error(`not a valid images.${role}/v1 event: ${JSON.stringify(validate.errors)}`);
}
