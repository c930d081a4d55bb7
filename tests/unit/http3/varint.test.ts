import assert from "node:assert/strict";
import {
  encodeVarint,
  readVarint,
  varintLength,
  varintSizeFromFirstByte,
} from "../../../server/http3/varint.ts";

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("varint encodes RFC 9000 Appendix A.1 examples in their shortest form", () => {
  assert.equal(hex(encodeVarint(37)), "25");
  assert.equal(hex(encodeVarint(15293)), "7bbd");
  assert.equal(hex(encodeVarint(494878333)), "9d7f3e7d");
  // 151288809941952652 is above 2^53; the nearest double keeps the top bits.
  assert.equal(hex(encodeVarint(151288809941952652)).slice(0, 12), "c2197c5eff14");
  assert.equal(hex(encodeVarint(2 ** 40 + 7)), "c000010000000007");
});

Deno.test("varint decodes RFC 9000 examples, including non-minimal encodings", () => {
  assert.equal(readVarint(Uint8Array.of(0x25), 0), 37);
  assert.equal(readVarint(Uint8Array.of(0x40, 0x25), 0), 37);
  assert.equal(readVarint(Uint8Array.of(0x7b, 0xbd), 0), 15293);
  assert.equal(readVarint(Uint8Array.of(0x9d, 0x7f, 0x3e, 0x7d), 0), 494878333);
  const big = Uint8Array.of(0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c);
  assert.equal(readVarint(big, 0), 151288809941952652); // as close as a double gets
  assert.equal(varintSizeFromFirstByte(big[0]), 8);
});

Deno.test("varint round-trips every size boundary", () => {
  for (const value of [0, 63, 64, 16383, 16384, 2 ** 30 - 1, 2 ** 30, 2 ** 40 + 5, 2 ** 53 - 1]) {
    const bytes = encodeVarint(value);
    assert.equal(bytes.length, varintLength(value));
    assert.equal(readVarint(bytes, 0), value);
  }
});

Deno.test("varint reports -1 when the buffer ends inside it", () => {
  assert.equal(readVarint(new Uint8Array(0), 0), -1);
  assert.equal(readVarint(Uint8Array.of(0x7b), 0), -1);
  assert.equal(readVarint(Uint8Array.of(0xc2, 0x19, 0x7c), 0), -1);
});

Deno.test("varint refuses values it cannot encode", () => {
  assert.throws(() => encodeVarint(-1), RangeError);
  assert.throws(() => encodeVarint(2 ** 62), RangeError);
});
