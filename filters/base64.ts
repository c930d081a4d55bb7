/**
 * Standard base64 (RFC 4648 section 4, with padding) of bytes, as Go's
 * `encoding/base64.StdEncoding` writes it.
 *
 * @module
 */

/** `bytes` as base64 text. */
export function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  // In slices: one fromCharCode call per slice, and no argument list too long for the engine.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** The bytes base64 `text` holds; throws a `DOMException` when it is not base64. */
export function decodeBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
