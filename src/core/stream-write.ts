// Writing to a Node stream with back-pressure, for every layer that streams snapshot contents (dump, ui, cli).

function brokenPipe(): Error {
  return Object.assign(new Error('output closed'), { code: 'EPIPE' });
}

/** Writes bytes to a stream, waiting while its buffer is full; rejects if the stream fails or is closed (e.g. EPIPE). */
export function writeTo(stream: NodeJS.WritableStream, data: Uint8Array | string): Promise<void> {
  if ((stream as { destroyed?: boolean }).destroyed) return Promise.reject(brokenPipe());
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err?: Error | null) => {
      if (settled) return;
      settled = true;
      stream.off('drain', onDrain);
      stream.off('error', onError);
      stream.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onError = (err: Error) => done(err);
    const onClose = () => done(brokenPipe());
    stream.on('error', onError);
    stream.on('close', onClose);
    const more = stream.write(data, (err) => {
      if (err) done(err);
    });
    if (more) done();
    else stream.on('drain', onDrain);
  });
}
