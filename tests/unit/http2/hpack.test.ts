/**
 * HPACK: the decoder against RFC 7541 Appendix C (with and without Huffman
 * coding, the dynamic table carried from block to block), its limits and
 * errors, and the encoder's blocks read back by the decoder.
 */

import assert from "node:assert/strict";
import { HpackDecoder, HpackEncoder, HpackError } from "../../../server/http2/hpack.ts";

function hex(text: string): Uint8Array {
  const digits = text.replace(/\s+/g, "");
  return Uint8Array.from(digits.match(/../g)!, (pair) => parseInt(pair, 16));
}

function decode(decoder: HpackDecoder, block: Uint8Array): [string, string][] {
  const count = decoder.decode(block, 0, block.length);
  return Array.from({ length: count }, (_, i) => [decoder.names[i], decoder.values[i]]);
}

const FIRST: [string, string][] = [
  [":method", "GET"],
  [":scheme", "http"],
  [":path", "/"],
  [":authority", "www.example.com"],
];
const SECOND: [string, string][] = [...FIRST, ["cache-control", "no-cache"]];
const THIRD: [string, string][] = [
  [":method", "GET"],
  [":scheme", "https"],
  [":path", "/index.html"],
  [":authority", "www.example.com"],
  ["custom-key", "custom-value"],
];

Deno.test("HPACK decodes RFC 7541 C.3: requests without Huffman coding, one table", () => {
  const decoder = new HpackDecoder();
  assert.deepEqual(
    decode(decoder, hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d")),
    FIRST,
  );
  assert.deepEqual(decode(decoder, hex("8286 84be 5808 6e6f 2d63 6163 6865")), SECOND);
  assert.deepEqual(
    decode(
      decoder,
      hex("8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65"),
    ),
    THIRD,
  );
});

Deno.test("HPACK decodes RFC 7541 C.4: the same requests Huffman-coded", () => {
  const decoder = new HpackDecoder();
  assert.deepEqual(decode(decoder, hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff")), FIRST);
  assert.deepEqual(decode(decoder, hex("8286 84be 5886 a8eb 1064 9cbf")), SECOND);
  assert.deepEqual(
    decode(
      decoder,
      hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"),
    ),
    THIRD,
  );
  // Header list size as SETTINGS_MAX_HEADER_LIST_SIZE counts it: bytes plus 32 per field.
  assert.equal(
    decoder.listSize,
    THIRD.reduce((sum, [name, value]) => sum + name.length + value.length + 32, 0),
  );
});

Deno.test("HPACK evicts the oldest entries past the table size, and follows size updates", () => {
  // A 64-byte table holds one of these 42-byte entries at a time.
  const decoder = new HpackDecoder(64);
  const insert = (name: string, value: string) => {
    const bytes = [0x40, name.length, ...new TextEncoder().encode(name)];
    bytes.push(value.length, ...new TextEncoder().encode(value));
    return new Uint8Array(bytes);
  };
  assert.deepEqual(decode(decoder, insert("x-a", "1234567")), [["x-a", "1234567"]]);
  assert.deepEqual(decode(decoder, new Uint8Array([0xbe])), [["x-a", "1234567"]]);
  decode(decoder, insert("x-b", "7654321"));
  assert.deepEqual(decode(decoder, new Uint8Array([0xbe])), [["x-b", "7654321"]]);
  assert.throws(() => decode(decoder, new Uint8Array([0xbf])), HpackError, "evicted entry");
  // A size update to 0 empties the table.
  assert.throws(() => decode(decoder, new Uint8Array([0x20, 0xbe])), HpackError);
  // Past what the settings announced, an update is refused.
  assert.throws(() => decode(decoder, new Uint8Array([0x3f, 0x32])), /exceeds the announced 64/);
});

Deno.test("HPACK refuses malformed blocks with HpackError", () => {
  const decoder = new HpackDecoder();
  const cases: [string, number[]][] = [
    ["index 0", [0x80]],
    ["index past the tables", [0xff, 0x00]],
    ["block ending inside a string", [0x00, 0x05, 0x61]],
    ["block ending inside an integer", [0x7f]],
    ["size update after a field", [0x82, 0x20]],
    ["Huffman padding that is not EOS", [0x00, 0x81, 0x00, 0x00]],
  ];
  for (const [what, bytes] of cases) {
    assert.throws(() => decode(decoder, new Uint8Array(bytes)), HpackError, what);
  }
  // Longer strings than the decoder takes.
  const small = new HpackDecoder(4096, 8);
  assert.throws(() => decode(small, hex("0003 6162 6309 3132 3334 3536 3738 39")), HpackError);
});

Deno.test("HPACK encoder: static status and names, literal values, read back whole", () => {
  const encoder = new HpackEncoder();
  const decoder = new HpackDecoder();
  const cases: [number, [string, string][]][] = [
    [200, [["content-type", "text/plain"], ["x-custom", "v"]]],
    [418, [["set-cookie", "a=1"], ["set-cookie", "b=2"], ["server", "eg"]]],
    [304, []],
    [503, [["x-long", "y".repeat(300)], ["www-authenticate", "Basic"]]],
  ];
  for (const [status, fields] of cases) {
    encoder.begin(status);
    for (const [name, value] of fields) encoder.field(name, value);
    const block = encoder.buffer.slice(0, encoder.length);
    assert.deepEqual(decode(decoder, block), [[":status", String(status)], ...fields]);
  }
  // 200 is one byte: the static table's index 8.
  encoder.begin(200);
  assert.deepEqual([...encoder.buffer.subarray(0, encoder.length)], [0x88]);
});
