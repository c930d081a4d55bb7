/**
 * Writing a whole byte array to a socket or file, whose `write` may take
 * only part of it.
 *
 * @module
 */

/** Writes `bytes[from, length)` to `writer`, however many writes it takes. */
export async function writeAll(
  writer: { write(bytes: Uint8Array): Promise<number> },
  bytes: Uint8Array,
  from = 0,
): Promise<void> {
  for (let at = from; at < bytes.length;) at += await writer.write(bytes.subarray(at));
}
