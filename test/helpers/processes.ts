import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../shared/paths';

/** A port the OS says is free right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface ServiceProcess {
  name: string;
  child: ChildProcess;
  output(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** The built product (`node dist/services/main.js [service]`) as its own process; no service: every configured one. */
export function startService(name: string, service: string | null, env: NodeJS.ProcessEnv): ServiceProcess {
  const args = [path.join(PACKAGE_ROOT, 'dist', 'services', 'main.js'), ...(service ? [service] : [])];
  const child = spawn(process.execPath, args, {
    // As `npm start` sets it: see the memory note in README.md.
    env: { MALLOC_ARENA_MAX: '2', ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    name,
    child,
    output: () => output,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** The first process that has already exited, if any. */
export function firstExited(processes: readonly ServiceProcess[]): ServiceProcess | undefined {
  return processes.find((p) => p.child.exitCode !== null || p.child.signalCode !== null);
}

/**
 * Waits until every process has logged that it started. A process that exits first fails the wait
 * at once with its output, instead of leaving the caller to time out.
 */
export async function awaitStarted(processes: readonly ServiceProcess[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exited = firstExited(processes);
    if (exited) throw new Error(`${exited.name} exited (${exited.child.exitCode ?? exited.child.signalCode}) before it started:\n${exited.output().slice(-3000)}`);
    if (processes.every((p) => p.output().includes('image ingest started'))) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${processes.filter((p) => !p.output().includes('image ingest started')).map((p) => p.name).join(', ')} to start`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Ends the process with `signal`, SIGKILL unless told otherwise: no shutdown hook runs, as in a
 * crash or an OOM kill. Resolves with the exit code, or the signal that ended it.
 */
export async function killService(service: ServiceProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<number | NodeJS.Signals | null> {
  const { child } = service;
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode ?? child.signalCode;
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig)));
  child.kill(signal);
  return exited;
}
