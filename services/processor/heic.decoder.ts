import { Worker } from 'node:worker_threads';

export interface DecodedHeic {
  width: number;
  height: number;
  /** RGBA, row by row; libheif has already applied the container's rotation and mirroring. */
  data: Buffer;
}

type WorkerReply =
  | { kind: 'size'; width: number; height: number }
  | { kind: 'pixels'; width: number; height: number; data: Uint8ClampedArray }
  | { kind: 'empty' }
  | { kind: 'error'; message: string };

/*
 * libheif in WASM decodes synchronously, about a second per 12 MP photo on this class of machine: on
 * the main thread that would stall every FTP transfer and HTTP answer of the process. Each decode gets
 * a worker of its own, so the WASM heap it grew is returned when it ends. Measured on a 12 MP photo:
 * 1.1-1.3 s in a worker with the event loop never stalled over 18 ms, 1.2-1.5 s on the main thread
 * with the loop stalled for all of it. Evaluated source rather than a
 * file, so the same code runs from dist/ and under jest; heic-decode is resolved by the parent.
 */
const WORKER_SOURCE = `
const { once } = require('node:events');
const { parentPort, workerData } = require('node:worker_threads');
const decodeHeic = require(workerData.module);
(async () => {
  const input = typeof workerData.input === 'string' ? require('node:fs').readFileSync(workerData.input) : workerData.input;
  const images = await decodeHeic.all({ buffer: input });
  try {
    const primary = images[0];
    if (!primary) return parentPort.postMessage({ kind: 'empty' });
    // The parent checks the size first; it terminates this worker rather than answer when it refuses.
    parentPort.postMessage({ kind: 'size', width: primary.width, height: primary.height });
    await once(parentPort, 'message');
    const { width, height, data } = await primary.decode();
    parentPort.postMessage({ kind: 'pixels', width, height, data }, [data.buffer]);
  } finally {
    images.dispose();
  }
})().catch((error) => parentPort.postMessage({ kind: 'error', message: String((error && error.message) || error) }));
`;

const HEIC_DECODE_MODULE = require.resolve('heic-decode');

/**
 * Decodes the primary image of an HEVC-coded HEIC off the main thread; null when the file holds none.
 * A path is read whole by the worker (HEIC photos are a few MB), so the parent never holds the file.
 * `checkSize` sees the declared size before any pixel is decoded and refuses by throwing.
 */
export function decodeHeic(input: Buffer | string, checkSize: (width: number, height: number) => void): Promise<DecodedHeic | null> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module: HEIC_DECODE_MODULE, input } });
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      outcome();
      void worker.terminate();
    };
    worker.on('message', (reply: WorkerReply) => {
      if (reply.kind === 'size') {
        try {
          checkSize(reply.width, reply.height);
          worker.postMessage('decode');
        } catch (error) {
          settle(() => reject(error));
        }
        return;
      }
      settle(() => {
        if (reply.kind === 'pixels') resolve({ width: reply.width, height: reply.height, data: Buffer.from(reply.data.buffer, reply.data.byteOffset, reply.data.byteLength) });
        else if (reply.kind === 'empty') resolve(null);
        else reject(new Error(reply.message));
      });
    });
    worker.once('error', (error) => settle(() => reject(error)));
    worker.once('exit', (code) => settle(() => reject(new Error(`HEIC decoder exited with code ${code} before it answered`))));
  });
}
