import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { PACKAGE_ROOT } from '../paths';
import { SCHEMAS, type EventByRole, type TopicRole } from './events';

const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats(ajv);
const validators = new Map<TopicRole, ValidateFunction>();

function validator(role: TopicRole): ValidateFunction {
  let validate = validators.get(role);
  if (!validate) {
    const file = path.join(PACKAGE_ROOT, 'shared', 'contracts', 'schemas', `${SCHEMAS[role].replace('/', '.')}.json`);
    validate = ajv.compile(JSON.parse(readFileSync(file, 'utf8')) as object);
    validators.set(role, validate);
  }
  return validate;
}

/**
 * Checks a value against the published JSON Schema of its topic's event. Returns null when valid,
 * else a short description of what is wrong (for the dead letter and the logs).
 */
export function eventProblems(role: TopicRole, value: unknown): string | null {
  const validate = validator(role);
  if (validate(value)) return null;
  return (validate.errors ?? [])
    .slice(0, 5)
    .map((e) => `${e.instancePath || '(event)'} ${e.message ?? 'is invalid'}`)
    .join('; ');
}

export function isEvent<R extends TopicRole>(role: R, value: unknown): value is EventByRole[R] {
  return eventProblems(role, value) === null;
}
