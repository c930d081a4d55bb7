/**
 * FNV-1 32-bit hashing, as Easegress uses for ipHash and headerHash.
 *
 * @module
 */

/** FNV-1 (not 1a) 32-bit hash of a string's UTF-16 code units below 0x80, bytes otherwise. */
export function fnv1(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      hash = Math.imul(hash, 0x01000193) >>> 0;
      hash = (hash ^ c) >>> 0;
    } else {
      for (const b of new TextEncoder().encode(text[i])) {
        hash = Math.imul(hash, 0x01000193) >>> 0;
        hash = (hash ^ b) >>> 0;
      }
    }
  }
  return hash;
}
