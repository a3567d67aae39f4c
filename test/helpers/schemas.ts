import type { TopicRole } from '../../shared/contracts/events';
import { eventProblems } from '../../shared/contracts/validate';

/** Throws, naming the schema errors, when `value` is not a valid event of `role` per the published JSON Schema. */
export function assertEvent(role: TopicRole, value: unknown): void {
  const problems = eventProblems(role, value);
  if (problems) throw new Error(`not a valid images.${role}/v1 event: ${problems}`);
}
