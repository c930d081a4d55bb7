import assert from "node:assert/strict";
import {
  HUFFMAN_CODES,
  HUFFMAN_LENGTHS,
  huffmanDecode,
  HuffmanDecodeError,
  huffmanEncode,
  huffmanEncodedLength,
  huffmanMaxDecodedLength,
} from "../../../server/http3/huffman.ts";

function encode(text: string): string {
  const src = new TextEncoder().encode(text);
  const out = new Uint8Array(huffmanEncodedLength(src));
  assert.equal(huffmanEncode(src, out, 0), out.length);
  return Array.from(out, (b) => b.toString(16).padStart(2, "0")).join("");
}

function decode(hex: string): string {
  const src = Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
  const out = new Uint8Array(huffmanMaxDecodedLength(src.length));
  const n = huffmanDecode(src, 0, src.length, out);
  return new TextDecoder().decode(out.subarray(0, n));
}

/** Strings and their encodings from RFC 7541 Appendix C.4 and C.6. */
const RFC7541_VECTORS: Array<[string, string]> = [
  ["www.example.com", "f1e3c2e5f23a6ba0ab90f4ff"],
  ["no-cache", "a8eb10649cbf"],
  ["custom-key", "25a849e95ba97d7f"],
  ["custom-value", "25a849e95bb8e8b4bf"],
  ["302", "6402"],
  ["private", "aec3771a4b"],
  ["Mon, 21 Oct 2013 20:13:21 GMT", "d07abe941054d444a8200595040b8166e082a62d1bff"],
  ["https://www.example.com", "9d29ad171863c78f0b97c8e9ae82ae43d3"],
  ["307", "640eff"],
  ["Mon, 21 Oct 2013 20:13:22 GMT", "d07abe941054d444a8200595040b8166e084a62d1bff"],
  ["gzip", "9bd9ab"],
  [
    "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
    "94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
  ],
];

Deno.test("huffman codes derived from the lengths match RFC 7541 Appendix B", () => {
  const quoted: Array<[number, number, number]> = [
    [0, 0x1ff8, 13],
    [10, 0x3ffffffc, 30],
    [32, 0x14, 6],
    [48, 0x0, 5],
    [97, 0x3, 5],
    [127, 0xffffffc, 28],
    [255, 0x3ffffee, 26],
    [256, 0x3fffffff, 30],
  ];
  for (const [symbol, code, length] of quoted) {
    assert.equal(HUFFMAN_CODES[symbol], code, `code of symbol ${symbol}`);
    assert.equal(HUFFMAN_LENGTHS[symbol], length, `length of symbol ${symbol}`);
  }
  // A complete prefix code: the Kraft sum is exactly 1.
  const kraft = Array.from(HUFFMAN_LENGTHS).reduce((sum, len) => sum + 2 ** -len, 0);
  assert.equal(kraft, 1);
});

Deno.test("huffman encodes the RFC 7541 Appendix C strings", () => {
  for (const [text, hex] of RFC7541_VECTORS) assert.equal(encode(text), hex, text);
});

Deno.test("huffman decodes the RFC 7541 Appendix C strings", () => {
  for (const [text, hex] of RFC7541_VECTORS) assert.equal(decode(hex), text, hex);
});

Deno.test("huffman round-trips every byte value", () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  const encoded = new Uint8Array(huffmanEncodedLength(all));
  huffmanEncode(all, encoded, 0);
  const out = new Uint8Array(huffmanMaxDecodedLength(encoded.length));
  const n = huffmanDecode(encoded, 0, encoded.length, out);
  assert.deepEqual(out.subarray(0, n), all);
});

Deno.test("huffman rejects padding that is too long or not all ones", () => {
  // "0" is 00000 (5 bits); a full 0xff byte after it makes 11 bits of padding.
  assert.throws(() => decode("07ff"), HuffmanDecodeError);
  // "0" padded with zeros instead of ones.
  assert.throws(() => decode("00"), HuffmanDecodeError);
});

Deno.test("huffman rejects the EOS symbol inside a string", () => {
  assert.throws(() => decode("ffffffff"), /EOS/);
});
