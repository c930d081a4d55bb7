import assert from "node:assert/strict";
import {
  FieldSectionTooLargeError,
  H3_ERROR,
  H3ConnectionError,
} from "../../../server/http3/errors.ts";
import { QpackDecoder } from "../../../server/http3/qpack_decoder.ts";
import { QpackEncoder } from "../../../server/http3/qpack_encoder.ts";
import { ByteCursor, readPrefixInt } from "../../../server/http3/qpack_primitives.ts";

function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, "");
  return Uint8Array.from((clean.match(/../g) ?? []).map((h) => parseInt(h, 16)));
}

function toHex(bytes: Uint8Array | null): string {
  return bytes ? Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("") : "";
}

function pairs(fields: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < fields.length; i += 2) out.push([fields[i], fields[i + 1]]);
  return out;
}

function isH3Error(code: number) {
  return (error: unknown) => error instanceof H3ConnectionError && error.code === code;
}

Deno.test("QPACK decodes RFC 9204 B.1: literal with static name reference", () => {
  const decoder = new QpackDecoder();
  const fields = decoder.decodeFieldSection(fromHex("0000 510b 2f69 6e64 6578 2e68 746d 6c"), 0);
  assert.deepEqual(pairs(fields), [[":path", "/index.html"]]);
  assert.equal(decoder.takeDecoderStreamBytes(), null);
});

Deno.test("QPACK decodes RFC 9204 B.2-B.5 with a dynamic table of capacity 220", () => {
  const decoder = new QpackDecoder({ maxTableCapacity: 220 });
  // B.2: capacity, two inserts with static name references, then a section using them.
  decoder.feedEncoderStream(
    fromHex("3fbd01 c00f 7777 772e 6578 616d 706c 652e 636f 6d c10c 2f73 616d 706c 652f 7061 7468"),
  );
  assert.equal(decoder.insertCount, 2);
  assert.deepEqual(pairs(decoder.decodeFieldSection(fromHex("0381 10 11"), 4)), [
    [":authority", "www.example.com"],
    [":path", "/sample/path"],
  ]);
  assert.equal(toHex(decoder.takeDecoderStreamBytes()), "84"); // Section Acknowledgment, stream 4
  assert.equal(decoder.tableSize, 106);

  // B.3: speculative insert, acknowledged with an Insert Count Increment.
  decoder.feedEncoderStream(fromHex("4a63 7573 746f 6d2d 6b65 790c 6375 7374 6f6d 2d76 616c 7565"));
  assert.equal(toHex(decoder.takeDecoderStreamBytes()), "01");
  assert.equal(decoder.tableSize, 160);

  // B.4: duplicate, then a section mixing dynamic and static references.
  decoder.feedEncoderStream(fromHex("02"));
  assert.deepEqual(pairs(decoder.decodeFieldSection(fromHex("0500 80 c1 81"), 8)), [
    [":authority", "www.example.com"],
    [":path", "/"],
    ["custom-key", "custom-value"],
  ]);
  assert.equal(decoder.tableSize, 217);
  decoder.cancelStream(8);
  assert.equal(toHex(decoder.takeDecoderStreamBytes()), "8848"); // Section Ack 8, Stream Cancellation 8

  // B.5: insert with a dynamic name reference evicts the oldest entry.
  decoder.feedEncoderStream(fromHex("810d 6375 7374 6f6d 2d76 616c 7565 32"));
  assert.equal(decoder.tableSize, 215);
  assert.equal(decoder.insertCount, 5);
  // Absolute index 0 is gone; 4 is custom-key=custom-value2 (Base 5, relative 0).
  assert.deepEqual(pairs(decoder.decodeFieldSection(fromHex("0600 80"), 12)), [
    ["custom-key", "custom-value2"],
  ]);
  assert.throws(() => decoder.decodeFieldSection(fromHex("0600 84"), 16), isH3Error(0x200));
});

Deno.test("QPACK encoder instructions may arrive split byte by byte", () => {
  const decoder = new QpackDecoder({ maxTableCapacity: 220 });
  const instructions = fromHex(
    "3fbd01 4a63 7573 746f 6d2d 6b65 790c 6375 7374 6f6d 2d76 616c 7565",
  );
  for (const byte of instructions) decoder.feedEncoderStream(Uint8Array.of(byte));
  assert.equal(decoder.insertCount, 1);
  assert.equal(decoder.tableSize, 54);
});

Deno.test("QPACK with capacity 0 accepts Set Dynamic Table Capacity 0 and refuses inserts", () => {
  const decoder = new QpackDecoder();
  decoder.feedEncoderStream(fromHex("20")); // Set Dynamic Table Capacity = 0
  assert.throws(
    () => decoder.feedEncoderStream(fromHex("3fbd01")), // capacity 220 > advertised 0
    isH3Error(H3_ERROR.QPACK_ENCODER_STREAM_ERROR),
  );
  const other = new QpackDecoder();
  assert.throws(
    () => other.feedEncoderStream(fromHex("c00f 7777 772e 6578 616d 706c 652e 636f 6d")),
    isH3Error(H3_ERROR.QPACK_ENCODER_STREAM_ERROR),
  );
});

Deno.test("QPACK field sections referencing a table we never allowed fail decompression", () => {
  const decoder = new QpackDecoder();
  // Required Insert Count 1 with max capacity 0.
  assert.throws(() => decoder.decodeFieldSection(fromHex("0100 80"), 0), isH3Error(0x200));
  // Dynamic indexed field line in a section that declared no dynamic references.
  assert.throws(() => decoder.decodeFieldSection(fromHex("0000 80"), 0), isH3Error(0x200));
  // Post-base index.
  assert.throws(() => decoder.decodeFieldSection(fromHex("0000 10"), 0), isH3Error(0x200));
});

Deno.test("QPACK rejects malformed field sections", () => {
  const decoder = new QpackDecoder();
  const cases = [
    "", // no prefix
    "00", // prefix cut short
    "0000 ff", // static index cut short
    "0000 ff7f", // static index 126: out of range
    "0000 510b 2f69", // value shorter than its length
    "0000 2f", // literal name length cut short
    "0000 c1 ffffffffffffffffff7f", // integer overflow
    "0000 5187 07ff", // Huffman value with bad padding
  ];
  for (const hex of cases) {
    assert.throws(() => decoder.decodeFieldSection(fromHex(hex), 0), isH3Error(0x200), hex);
  }
});

Deno.test("QPACK enforces the field section size limit", () => {
  const decoder = new QpackDecoder({ maxFieldSectionSize: 64 });
  const encoder = new QpackEncoder();
  const small = encoder.encodeFieldSection([":path", "/"]);
  assert.deepEqual(pairs(decoder.decodeFieldSection(small, 0)), [[":path", "/"]]);
  const large = encoder.encodeFieldSection(["x-long", "v".repeat(40)]);
  assert.throws(() => decoder.decodeFieldSection(large, 0), FieldSectionTooLargeError);
});

Deno.test("QPACK takes one string past the section limit for a section too large, not a broken connection", () => {
  const decoder = new QpackDecoder({ maxFieldSectionSize: 64 });
  const encoder = new QpackEncoder();
  // Huffman-coded in 50 bytes, within the limit; 80 once decoded, past it.
  const section = encoder.encodeFieldSection([":path", "/" + "a".repeat(79)]);
  assert.ok(section.length < 64);
  assert.throws(() => decoder.decodeFieldSection(section, 0), FieldSectionTooLargeError);
  const literal = fromHex("0000 51 7f 12" + "61".repeat(145)); // :path, 145 plain bytes;
  assert.throws(() => decoder.decodeFieldSection(literal, 0), FieldSectionTooLargeError);
  const after = encoder.encodeFieldSection([":path", "/"]);
  assert.deepEqual(pairs(decoder.decodeFieldSection(after, 0)), [[":path", "/"]]);
});

Deno.test("QPACK encoder output decodes back to the same fields", () => {
  const encoder = new QpackEncoder();
  const decoder = new QpackDecoder();
  const fields = [
    ":status",
    "200", // exact static match
    ":status",
    "201", // static name, literal value
    "content-type",
    "application/json", // exact static match
    "x-custom",
    "Some Value \u00e9", // literal name, byte-string value
    "set-cookie",
    "a=1",
    "set-cookie",
    "b=2",
    "x-empty",
    "",
    "x-bytes",
    "\u0000\u00ff\u0080",
  ];
  const encoded = encoder.encodeFieldSection(fields);
  assert.deepEqual(decoder.decodeFieldSection(encoded, 0), fields);
  // ":status: 200" is static entry 25: one byte 0xd9.
  assert.equal(toHex(encoder.encodeFieldSection([":status", "200"])), "0000d9");
});

Deno.test("QPACK encoder HEADERS frame leaves room for a trailing DATA frame", () => {
  const encoder = new QpackEncoder();
  const frame = encoder.encodeHeadersFrame([":status", "404"], 5);
  assert.equal(toHex(frame.subarray(0, frame.length - 5)), "01030000db");
  assert.equal(frame.length, 10);
});

Deno.test("QPACK decoder-stream input for a static-only encoder", () => {
  const encoder = new QpackEncoder();
  encoder.feedDecoderStream(fromHex("44")); // Stream Cancellation, stream 4
  encoder.feedDecoderStream(fromHex("7f")); // Stream Cancellation, split integer...
  encoder.feedDecoderStream(fromHex("01")); // ...completed
  assert.throws(() => encoder.feedDecoderStream(fromHex("84")), isH3Error(0x202));
  assert.throws(() => new QpackEncoder().feedDecoderStream(fromHex("01")), isH3Error(0x202));
});

Deno.test("prefix integers follow RFC 7541 C.1 examples", () => {
  const cursor = new ByteCursor();
  assert.equal(readPrefixInt(cursor.reset(fromHex("0a")), 5), 10);
  assert.equal(readPrefixInt(cursor.reset(fromHex("1f9a0a")), 5), 1337);
  assert.equal(readPrefixInt(cursor.reset(fromHex("2a")), 8), 42);
  assert.equal(readPrefixInt(cursor.reset(fromHex("1f9a")), 5), -1); // incomplete
});
