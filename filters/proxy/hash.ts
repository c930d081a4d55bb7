/**
 * FNV-1 32-bit hashing, as Easegress uses for ipHash and headerHash.
 *
 * @module
 */

const utf8 = new TextEncoder();

/**
 * FNV-1 (not 1a) 32-bit hash of a field value's bytes. Header values are
 * byte strings (one char per byte, as they came on the wire), so a char
 * below 0x100 is hashed as that byte, as Go hashes the raw value; only a
 * char above, which a filter may have set, is hashed as its UTF-8 bytes.
 */
export function fnv1(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x100) {
      hash = Math.imul(hash, 0x01000193) >>> 0;
      hash = (hash ^ c) >>> 0;
    } else {
      const point = text.codePointAt(i)!;
      if (point > 0xffff) i++;
      for (const b of utf8.encode(String.fromCodePoint(point))) {
        hash = Math.imul(hash, 0x01000193) >>> 0;
        hash = (hash ^ b) >>> 0;
      }
    }
  }
  return hash;
}
