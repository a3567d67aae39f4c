import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface TestCertificate {
  certFile: string;
  keyFile: string;
  /** SHA-256 fingerprint as Node's X509Certificate and TLSSocket.getPeerCertificate() print it. */
  fingerprint256: string;
}

/**
 * A command-line tool the suite drives. Missing is a failure with the way to get it, never a
 * skipped test: `bash scripts/provision-test-tools.sh` installs lftp (and checks curl, openssl).
 */
export function requireTool(name: string): void {
  const found = spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
  if (!found) throw new Error(`${name} is not installed: run bash scripts/provision-test-tools.sh`);
}

/** A fresh self-signed certificate for 127.0.0.1 and localhost (EC P-256, two days) in `dir` or a new temp folder. */
export function makeCertificate(dir = mkdtempSync(path.join(tmpdir(), 'ftps-cert-')), name = 'server'): TestCertificate {
  requireTool('openssl');
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { stdio: 'pipe' });
  return { certFile, keyFile, fingerprint256: new X509Certificate(readFileSync(certFile)).fingerprint256 };
}
