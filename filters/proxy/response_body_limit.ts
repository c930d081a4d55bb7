/**
 * `serverMaxBodySize` for answers of unknown length (chunked, or read until
 * the upstream closes). Easegress reads such a body whole before answering
 * and fails with 500 past the limit; this proxy streams it, so a body that
 * turns out too long after its head went out can no longer become a 500: its
 * stream errors instead, which cuts the client's connection (no last chunk,
 * so the client sees a broken answer, never a short one taken for whole),
 * and the upstream connection is dropped. The bytes that came with the head
 * are judged before anything is sent (500, see the pool).
 *
 * @module
 */

/**
 * `body`, erroring once more than `limit` bytes have passed; the error (which
 * the server logs) names `serverURL`.
 */
export function limitBodyStream(
  body: ReadableStream<Uint8Array>,
  limit: number,
  serverURL: string,
  onExceeded: () => void,
): ReadableStream<Uint8Array> {
  let passed = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        passed += chunk.length;
        if (passed > limit) {
          onExceeded();
          controller.error(
            new RangeError(`${serverURL} sent a body over serverMaxBodySize ${limit} bytes: cut`),
          );
          return;
        }
        controller.enqueue(chunk);
      },
    }),
  );
}
