import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { PACKAGE_ROOT } from '../../shared/paths';

const run = promisify(execFile);
const OPS = path.join(PACKAGE_ROOT, 'ops');

/**
 * The alert rules in ops/ as Prometheus itself reads and evaluates them: promtool (built once by
 * scripts/promtool.sh, which `npm test`'s provisioning runs) checks their syntax and runs the rule
 * unit tests of ops/prometheus-alerts.test.yml, where a quiet camera fires its alert.
 */
describe('the Prometheus alert rules', () => {
  let promtool: string;

  beforeAll(async () => {
    // Cached after the first build; the first build takes minutes.
    promtool = (await run('bash', [path.join(PACKAGE_ROOT, 'scripts', 'promtool.sh')], { timeout: 900_000 })).stdout.trim();
  }, 900_000);

  it('are valid rules', async () => {
    const { stdout } = await run(promtool, ['check', 'rules', path.join(OPS, 'prometheus-alerts.yml')]);
    expect(stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('fire as their unit tests expect: a quiet camera after 15 minutes, a part not ready, lag counted once per partition', async () => {
    // promtool exits non-zero and names the failing test when an alert does not fire as expected.
    const { stdout } = await run(promtool, ['test', 'rules', path.join(OPS, 'prometheus-alerts.test.yml')], { cwd: OPS });
    expect(stdout).toContain('SUCCESS');
  });
});
