import assert from "node:assert/strict";
import { decodeHead, latin1 } from "../../../filters/byte_string.ts";

const bytes = (...values: number[]) => new Uint8Array(values);

Deno.test("decodeHead keeps one char per byte, whatever the bytes", () => {
  assert.equal(decodeHead(new TextEncoder().encode("Host: a\r\n")), "Host: a\r\n");
  // A lone high byte (invalid UTF-8) and a valid UTF-8 sequence alike.
  assert.equal(decodeHead(bytes(0x61, 0xe9)), "a\u00e9");
  assert.equal(decodeHead(bytes(0xc3, 0xa9)), "\u00c3\u00a9");
  // A BOM stays three chars, and so do the bytes of U+FFFD itself.
  assert.equal(decodeHead(bytes(0xef, 0xbb, 0xbf, 0x47)), "\u00ef\u00bb\u00bfG");
  assert.equal(decodeHead(bytes(0xef, 0xbf, 0xbd)), "\u00ef\u00bf\u00bd");
  // A four-byte sequence becomes two UTF-16 units: shorter, so byte by byte too.
  assert.equal(decodeHead(bytes(0xf0, 0x9f, 0x98, 0x80)), "\u00f0\u009f\u0098\u0080");
  assert.equal(decodeHead(bytes()), "");
});

Deno.test("latin1 maps each byte to one char, in ranges and across chunks", () => {
  const all = new Uint8Array(256).map((_, i) => i);
  const text = latin1(all);
  assert.equal(text.length, 256);
  for (let i = 0; i < 256; i++) assert.equal(text.charCodeAt(i), i);
  assert.equal(latin1(all, 65, 68), "ABC");
  const big = new Uint8Array(20_000).fill(0x7a);
  big[19_999] = 0xff;
  const long = latin1(big);
  assert.equal(long.length, 20_000);
  assert.equal(long.charCodeAt(19_999), 0xff);
});
