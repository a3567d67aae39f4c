/**
 * `npm run bench`: processing against plain sharp and ImageMagick, the product end to end (embedded,
 * then on Kafka/Elasticsearch/MinIO), memory over a soak, and FTP ingest throughput. Prints a table
 * and writes bench/results/latest.{json,md}. Figures are read by people, never asserted by a test.
 *
 *   npm run bench -- [--soak-minutes 10] [--images 24] [--no-stack] [--quick]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { hashPassword } from '../shared/accounts';
import { loadConfig } from '../shared/config/config.loader';
import { PACKAGE_ROOT } from '../shared/paths';
import { distributedOverrides, stackEnv } from '../test/helpers/stack';
import { deploy, ftpThroughput, load, MemorySampler, type LoadResult } from './e2e';
import { paddedJpeg, prepareInputs } from './inputs';
import { findImageMagick, measureProcessing, type ProcessingResult } from './processing';

const { values } = parseArgs({
  options: {
    'soak-minutes': { type: 'string', default: '10' },
    images: { type: 'string', default: '32' },
    'no-stack': { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
  },
});
const quick = values.quick!;
const soakMinutes = Number(values['soak-minutes']);
const images = quick ? 8 : Number(values.images);
const cores = cpus().length;
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const PASSWORD = 'bench-password';

interface EndToEnd {
  saturation: LoadResult;
  halfLoad: LoadResult;
  peakRssMB: Record<string, number>;
}

async function endToEnd(name: string, dir: string, layout: 'single' | 'per-service', overrides: Record<string, unknown>, env: Record<string, string>, inputs: Buffer[], passwordHash: string): Promise<EndToEnd> {
  const deployment = await deploy({ dir, layout, env, overrides, passwordHash });
  const memory = new MemorySampler(deployment.processes).start();
  try {
    log(`${name}: saturation, ${images} uploads at concurrency 4`);
    const saturation = await load({ deployment, password: PASSWORD, inputs, images, concurrency: 4, offset: 0 });
    const rate = saturation.imagesPerSecond / 2;
    log(`${name}: half load, ${rate.toFixed(2)} uploads/s`);
    const halfLoad = await load({ deployment, password: PASSWORD, inputs, images, concurrency: 4, rate, offset: 10_000 });
    return { saturation, halfLoad, peakRssMB: memory.stop() };
  } finally {
    memory.stop();
    await deployment.stop();
  }
}

async function main(): Promise<void> {
  log('building');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: PACKAGE_ROOT, stdio: 'inherit' });
  const config = loadConfig({ env: {} });
  const sets = await prepareInputs(path.join(PACKAGE_ROOT, '.cache', 'bench-inputs'), log);
  const magick = await findImageMagick();
  if (!magick) log('ImageMagick not found (apt-get install imagemagick): its column stays empty');
  const passwordHash = await hashPassword(PASSWORD);
  const work = mkdtempSync(path.join(tmpdir(), 'bench-'));
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cores, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, imagemagick: magick },
  };

  const out = path.join(PACKAGE_ROOT, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  // Written after every phase, so a failure late in a long run keeps what was measured.
  const save = () => writeFileSync(path.join(out, 'latest.json'), JSON.stringify(results, null, 2));

  // 1. Processing only.
  log('processing: project vs plain sharp vs ImageMagick');
  const processing: ProcessingResult[] = await measureProcessing(config, sets, quick ? 4 : 12, [1, cores], magick);
  results.processing = processing;
  save();

  const large = sets[0].files.map((f) => readFileSync(f));
  const perSet = (engine: string, concurrency: number) => processing.find((p) => p.engine === engine && p.set === sets[0].name && p.concurrency === concurrency);

  // 2. End to end, embedded.
  const embeddedDir = path.join(work, 'embedded');
  mkdirSync(embeddedDir);
  results.embedded = await endToEnd('embedded', embeddedDir, 'single', {}, {}, large, passwordHash);
  save();

  // 3. End to end on the stack.
  if (!values['no-stack']) {
    log('starting the stack');
    execFileSync('bash', [path.join(PACKAGE_ROOT, 'scripts', 'stack.sh'), 'up'], { stdio: 'inherit' });
    const stackDir = path.join(work, 'stack');
    mkdirSync(stackDir);
    const run = `bench-${Date.now()}`;
    results.stack = await endToEnd('stack', stackDir, 'per-service', distributedOverrides(run, 'false'), { ...stackEnv(), ADAPTERS: 'distributed' }, large, passwordHash);
    save();
  }

  // 4. Memory over a soak at half the saturation rate.
  if (soakMinutes > 0) {
    const soakDir = path.join(work, 'soak');
    mkdirSync(soakDir);
    const deployment = await deploy({ dir: soakDir, layout: 'single', env: {}, overrides: {}, passwordHash });
    const memory = new MemorySampler(deployment.processes, 2000).start();
    const rate = (results.embedded as EndToEnd).saturation.imagesPerSecond / 2;
    const count = Math.max(1, Math.round(rate * soakMinutes * 60));
    log(`soak: ${count} uploads over ${soakMinutes} min at ${rate.toFixed(2)}/s`);
    const soak = await load({ deployment, password: PASSWORD, inputs: large, images: count, concurrency: 4, rate, offset: 20_000 }).finally(() => deployment.stop());
    const peak = memory.stop();
    const series = memory.series.map((s) => s.rssMB);
    const third = Math.max(1, Math.floor(series.length / 3));
    const firstThird = Math.max(...series.slice(0, third));
    const lastThird = Math.max(...series.slice(-third));
    rmSync(soakDir, { recursive: true, force: true });
    results.soak = { minutes: soakMinutes, uploads: count, load: soak, peakRssMB: peak.all, rssMaxFirstThirdMB: firstThird, rssMaxLastThirdMB: lastThird, flat: lastThird <= firstThird * 1.1, samples: memory.series.filter((_, i) => i % 15 === 0) };
  }

  // 5. FTP ingest alone.
  const ftpDir = path.join(work, 'ftp');
  mkdirSync(ftpDir);
  const ingestOnly = await deploy({ dir: ftpDir, layout: 'single', services: ['ingest'], env: {}, overrides: {}, passwordHash });
  try {
    log('FTP ingest: one 200 MB upload, then 8 parallel 20 MB uploads');
    results.ftp = {
      single200MB: await ftpThroughput(ingestOnly, PASSWORD, [await paddedJpeg(200e6)]),
      parallel8x20MB: await ftpThroughput(ingestOnly, PASSWORD, Array(8).fill(await paddedJpeg(20e6))),
    };
  } finally {
    await ingestOnly.stop();
  }

  results.ratios = {
    projectVsSharp: { c1: ratio(perSet('project', 1), perSet('sharp', 1)), cN: ratio(perSet('project', cores), perSet('sharp', cores)) },
    projectVsImageMagick: { c1: ratio(perSet('project', 1), perSet('imagemagick', 1)), cN: ratio(perSet('project', cores), perSet('imagemagick', cores)) },
    embeddedVsProcessing: +((results.embedded as EndToEnd).saturation.imagesPerSecond / perSet('project', cores)!.imagesPerSecond).toFixed(2),
  };
  save();
  const markdown = report(results, sets.map((s) => `${s.name} (${(s.meanBytes / 1e6).toFixed(1)} MB)`));
  writeFileSync(path.join(out, 'latest.md'), markdown);
  process.stdout.write(markdown);
  rmSync(work, { recursive: true, force: true });
}

function ratio(a: ProcessingResult | undefined, b: ProcessingResult | undefined): number | null {
  return a && b ? +(a.imagesPerSecond / b.imagesPerSecond).toFixed(2) : null;
}

function report(r: Record<string, any>, setNames: string[]): string {
  const lines = [
    `# Benchmark ${r.date}`,
    '',
    `Machine: ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB, Node ${r.machine.node}. Inputs: ${setNames.join(', ')}. Default renditions (thumb 256 WebP cover/attention, preview 1280 JPEG).`,
    '',
    '## Processing only (images/s, MB/s)',
    '',
    '| input | concurrency | project | plain sharp | ImageMagick |',
    '|---|---|---|---|---|',
  ];
  const sets = [...new Set((r.processing as ProcessingResult[]).map((p) => p.set))];
  for (const set of sets) {
    for (const c of [...new Set((r.processing as ProcessingResult[]).map((p) => p.concurrency))]) {
      const cell = (engine: string) => {
        const p = (r.processing as ProcessingResult[]).find((x) => x.set === set && x.engine === engine && x.concurrency === c);
        return p ? `${p.imagesPerSecond} (${p.mbPerSecond} MB/s)` : 'n/a';
      };
      lines.push(`| ${set} | ${c} | ${cell('project')} | ${cell('sharp')} | ${cell('imagemagick')} |`);
    }
  }
  const e2e = (name: string, e: EndToEnd | undefined) =>
    e
      ? `| ${name} | ${e.saturation.imagesPerSecond} | ${e.saturation.mbPerSecond} | ${e.halfLoad.ackToSearchableMs.p50} / ${e.halfLoad.ackToSearchableMs.p95} / ${e.halfLoad.ackToSearchableMs.p99} | ${e.saturation.ackToSearchableMs.p50} / ${e.saturation.ackToSearchableMs.p99} | ${Object.entries(e.peakRssMB).map(([k, v]) => `${k} ${v}`).join(', ')} |`
      : `| ${name} | not run | | | | |`;
  lines.push(
    '',
    `## End to end over FTP (${setNames[0]})`,
    '',
    '| deployment | images/s at saturation | MB/s | 226→searchable ms at half load p50 / p95 / p99 | at saturation p50 / p99 | peak RSS MB |',
    '|---|---|---|---|---|---|',
    e2e('embedded, one process', r.embedded),
    e2e('stack: Kafka, Elasticsearch, MinIO, a process per service', r.stack),
  );
  if (r.soak) {
    lines.push('', `## Soak: ${r.soak.minutes} min at half load, one process`, '', `${r.soak.uploads} uploads; peak RSS ${r.soak.peakRssMB} MB; max RSS first third ${r.soak.rssMaxFirstThirdMB} MB, last third ${r.soak.rssMaxLastThirdMB} MB: ${r.soak.flat ? 'flat' : 'GROWING'}; 226→searchable p99 ${r.soak.load.ackToSearchableMs.p99} ms.`);
  }
  lines.push(
    '',
    '## FTP ingest alone (upload to 226, stored and announced)',
    '',
    `- one 200 MB upload: ${r.ftp.single200MB.mbPerSecond} MB/s`,
    `- 8 parallel 20 MB uploads: ${r.ftp.parallel8x20MB.mbPerSecond} MB/s`,
    '',
    '## Targets',
    '',
    '| target | measured | met |',
    '|---|---|---|',
  );
  const row = (target: string, value: number | null | undefined, ok: boolean) => lines.push(`| ${target} | ${value ?? 'n/a'} | ${value == null ? 'n/a' : ok ? 'yes' : 'NO'} |`);
  const cN = r.ratios.projectVsSharp.cN;
  row(`processor ≥ 0.9x plain sharp (${r.machine.cores} at once)`, cN, cN >= 0.9);
  const im = r.ratios.projectVsImageMagick.cN;
  row(`processor ≥ 5x ImageMagick (${r.machine.cores} at once)`, im, im >= 5);
  row('embedded end to end ≥ 0.8x processing only', r.ratios.embeddedVsProcessing, r.ratios.embeddedVsProcessing >= 0.8);
  const p99 = r.embedded.halfLoad.ackToSearchableMs.p99;
  row('p99 226→searchable ≤ 2000 ms at half saturation (embedded)', p99, p99 <= 2000);
  if (r.stack) row('p99 226→searchable ≤ 2000 ms at half saturation (stack)', r.stack.halfLoad.ackToSearchableMs.p99, r.stack.halfLoad.ackToSearchableMs.p99 <= 2000);
  const rss = Math.max(...Object.values(r.embedded.peakRssMB as Record<string, number>));
  row('peak RSS ≤ 1024 MB with 20 MB inputs (embedded)', rss, rss <= 1024);
  if (r.soak) row('RSS flat over the soak (last third ≤ 1.1x first third), MB', r.soak.rssMaxLastThirdMB, r.soak.flat);
  row('FTP ingest ≥ 200 MB/s, one 200 MB upload', r.ftp.single200MB.mbPerSecond, r.ftp.single200MB.mbPerSecond >= 200);
  row('FTP ingest ≥ 200 MB/s, 8 parallel 20 MB uploads', r.ftp.parallel8x20MB.mbPerSecond, r.ftp.parallel8x20MB.mbPerSecond >= 200);
  return `${lines.join('\n')}\n`;
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
