// Worker thread body of `repo analyze`: analyses the files the pool sends, one at a time, and returns its chunk tables at the end.
// It holds the repository's id key (if any) only in memory and never writes anything.

import { errorMessage } from '../core/errors.js';
import { parentPort, workerData } from 'node:worker_threads';
import { Analyzer, type AnalyzerConfig, type FromWorker, type ToWorker } from './analyzer.js';

const analyzer = new Analyzer(workerData as AnalyzerConfig);
const port = parentPort!;
let queue: Promise<void> = Promise.resolve();

const send = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

port.on('message', (m: ToWorker) => {
  // Files are analysed in arrival order; the pool keeps a second one queued so the thread never idles.
  queue = queue.then(async () => {
    try {
      if (m.kind === 'file') {
        const path = Buffer.from(m.path.buffer, m.path.byteOffset, m.path.byteLength);
        send({ kind: 'file', job: m.job, result: await analyzer.file(path, m.snap) });
      } else {
        const tables = analyzer.tables.map((t) => t.serialize());
        send(
          { kind: 'tables', tables },
          tables.map((t) => t.buffer as ArrayBuffer),
        );
      }
    } catch (err) {
      send({ kind: 'error', message: errorMessage(err) });
    }
  });
});
