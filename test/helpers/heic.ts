import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { PACKAGE_ROOT } from '../../shared/paths';

const PILLOW_HEIF = 'pillow-heif==1.8.1';
const target = path.join(PACKAGE_ROOT, '.cache', PILLOW_HEIF.replace('==', '-'));
let provisioning: Promise<string> | null = null;

/** pillow-heif from PyPI, installed once into the git-ignored cache; parallel test workers each install aside and the first rename wins. */
function provision(): Promise<string> {
  provisioning ??= (async () => {
    if (existsSync(target)) return target;
    const staging = `${target}.${process.pid}`;
    mkdirSync(path.dirname(target), { recursive: true });
    try {
      await promisify(execFile)('python3', ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--target', staging, PILLOW_HEIF], { timeout: 300_000 });
    } catch (error) {
      rmSync(staging, { recursive: true, force: true });
      throw new Error(`cannot install ${PILLOW_HEIF} from PyPI with python3 -m pip, which HEIC fixtures need: ${String(error)}`);
    }
    try {
      renameSync(staging, target);
    } catch (error) {
      // Another worker's rename won; its copy is as good as ours.
      if (!existsSync(target)) throw error;
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
    return target;
  })();
  return provisioning;
}

/** The JPEG's pixels, EXIF and XMP as an HEVC-coded HEIC, the format iPhones write and sharp's prebuilt libvips cannot decode. */
export async function heicFromJpeg(jpeg: Buffer, quality = 80): Promise<Buffer> {
  const site = await provision();
  return new Promise((resolve, reject) => {
    const child = spawn('python3', [path.join(__dirname, 'encode-heic.py'), String(quality)], { env: { ...process.env, PYTHONPATH: site } });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`encode-heic.py exited ${code}: ${err}`))));
    child.stdin.end(jpeg);
  });
}
