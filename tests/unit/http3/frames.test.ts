import assert from "node:assert/strict";
import { H3_ERROR, H3ConnectionError } from "../../../server/http3/errors.ts";
import {
  encodeFrame,
  encodeGoawayFrame,
  encodeSettingsFrame,
  FRAME,
  isGreaseId,
  isReservedHttp2FrameType,
  parseSettings,
  parseSingleVarintPayload,
  SETTING,
} from "../../../server/http3/frames.ts";
import { StreamCancelledError, StreamReader } from "../../../server/http3/stream_reader.ts";

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

/** A stream delivering `chunks` one read at a time, then FIN. */
function streamOf(...chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(chunks);
}

function assertH3Error(fn: () => unknown, code: number): void {
  assert.throws(fn, (error) => error instanceof H3ConnectionError && error.code === code);
}

Deno.test("SETTINGS frame encodes and parses back", () => {
  const frame = encodeSettingsFrame([[SETTING.MAX_FIELD_SECTION_SIZE, 65536], [0x21, 7]]);
  assert.equal(frame[0], FRAME.SETTINGS);
  assert.equal(frame[1], frame.length - 2);
  const settings = parseSettings(frame.subarray(2));
  assert.equal(settings.get(SETTING.MAX_FIELD_SECTION_SIZE), 65536);
  assert.equal(settings.get(0x21), 7);
});

Deno.test("SETTINGS with a repeated or HTTP/2 setting is H3_SETTINGS_ERROR", () => {
  assertH3Error(() => parseSettings(bytes(0x06, 0x01, 0x06, 0x02)), H3_ERROR.SETTINGS_ERROR);
  assertH3Error(() => parseSettings(bytes(0x02, 0x00)), H3_ERROR.SETTINGS_ERROR);
});

Deno.test("SETTINGS payload ending inside a varint is H3_FRAME_ERROR", () => {
  assertH3Error(() => parseSettings(bytes(0x06)), H3_ERROR.FRAME_ERROR);
  assertH3Error(() => parseSettings(bytes(0x06, 0x40)), H3_ERROR.FRAME_ERROR);
});

Deno.test("GOAWAY carries exactly one varint", () => {
  const frame = encodeGoawayFrame(16);
  assert.deepEqual(frame, bytes(FRAME.GOAWAY, 0x01, 0x10));
  assert.equal(parseSingleVarintPayload(frame.subarray(2), "GOAWAY"), 16);
  assertH3Error(() => parseSingleVarintPayload(bytes(0x10, 0x00), "GOAWAY"), H3_ERROR.FRAME_ERROR);
  assertH3Error(() => parseSingleVarintPayload(bytes(), "GOAWAY"), H3_ERROR.FRAME_ERROR);
});

Deno.test("reserved types are recognized", () => {
  for (const type of [0x02, 0x06, 0x08, 0x09]) assert.ok(isReservedHttp2FrameType(type));
  assert.ok(!isReservedHttp2FrameType(FRAME.DATA));
  assert.ok(isGreaseId(0x21) && isGreaseId(0x21 + 0x1f * 5));
  assert.ok(!isGreaseId(0x22));
});

Deno.test("StreamReader reads frames split across arbitrary chunk boundaries", async () => {
  const data = encodeFrame(FRAME.DATA, new TextEncoder().encode("hello world"));
  const headers = encodeFrame(FRAME.HEADERS, bytes(0, 0, 0xd1));
  const all = new Uint8Array([...data, ...headers]);
  const chunks = Array.from(all, (b) => bytes(b)); // one byte per read
  const reader = new StreamReader(streamOf(...chunks));
  assert.ok(await reader.readFrameHeader());
  assert.equal(reader.frameType, FRAME.DATA);
  let body = "";
  for (let left = reader.frameLength; left > 0;) {
    const piece = await reader.readSome(left);
    left -= piece.length;
    body += new TextDecoder().decode(piece);
  }
  assert.equal(body, "hello world");
  assert.ok(await reader.readFrameHeader());
  assert.equal(reader.frameType, FRAME.HEADERS);
  assert.deepEqual(await reader.readExact(reader.frameLength), bytes(0, 0, 0xd1));
  assert.equal(await reader.readFrameHeader(), false);
  assert.ok(reader.ended);
});

Deno.test("StreamReader: a stream ending inside a frame is H3_FRAME_ERROR", async () => {
  const truncatedPayload = new StreamReader(streamOf(bytes(FRAME.HEADERS, 10, 1, 2, 3)));
  assert.ok(await truncatedPayload.readFrameHeader());
  await assert.rejects(
    () => truncatedPayload.readExact(truncatedPayload.frameLength),
    (e) => e instanceof H3ConnectionError && e.code === H3_ERROR.FRAME_ERROR,
  );
  const truncatedHeader = new StreamReader(streamOf(bytes(FRAME.HEADERS)));
  await assert.rejects(
    () => truncatedHeader.readFrameHeader(),
    (e) => e instanceof H3ConnectionError && e.code === H3_ERROR.FRAME_ERROR,
  );
  const truncatedLength = new StreamReader(streamOf(bytes(FRAME.DATA, 0x40)));
  await assert.rejects(
    () => truncatedLength.readFrameHeader(),
    (e) => e instanceof H3ConnectionError && e.code === H3_ERROR.FRAME_ERROR,
  );
});

Deno.test("StreamReader: a read stopped by its own cancel() is StreamCancelledError, not H3_FRAME_ERROR", async () => {
  let source!: ReadableStreamDefaultController<Uint8Array>;
  const reader = new StreamReader(new ReadableStream({ start: (c) => void (source = c) }));
  // A DATA frame promising 10 bytes, 3 of them here so far.
  source.enqueue(bytes(FRAME.DATA, 10, 1, 2, 3));
  assert.ok(await reader.readFrameHeader());
  assert.deepEqual(await reader.readSome(10), bytes(1, 2, 3));
  const waiting = reader.readSome(7);
  await reader.cancel();
  await assert.rejects(() => waiting, StreamCancelledError);
  await assert.rejects(() => reader.readFrameHeader(), StreamCancelledError);
  await assert.rejects(() => reader.readSome(1), StreamCancelledError);
});

Deno.test("StreamReader: a read that its cancel() makes fail is StreamCancelledError too", async () => {
  // A source whose pending read rejects on cancel, as a transport's may.
  let fail!: (error: Error) => void;
  let sent = false;
  const source = {
    getReader: () => ({
      read: () => {
        if (!sent) {
          sent = true;
          return Promise.resolve({ value: bytes(FRAME.DATA, 10, 1), done: false });
        }
        return new Promise((_, reject) => fail = reject);
      },
      cancel: () => {
        fail(new Error("stream stopped"));
        return Promise.resolve();
      },
    }),
  } as unknown as ReadableStream<Uint8Array>;
  const reader = new StreamReader(source);
  assert.ok(await reader.readFrameHeader());
  assert.deepEqual(await reader.readSome(10), bytes(1));
  const waiting = reader.readSome(9);
  await reader.cancel();
  await assert.rejects(() => waiting, StreamCancelledError);
});

Deno.test("StreamReader skips unknown frames without buffering them", async () => {
  const unknown = encodeFrame(0x21, new Uint8Array(100_000));
  const reader = new StreamReader(
    streamOf(unknown.subarray(0, 7), unknown.subarray(7), bytes(0x00, 0x00)),
  );
  assert.ok(await reader.readFrameHeader());
  assert.equal(reader.frameType, 0x21);
  await reader.skip(reader.frameLength);
  assert.ok(await reader.readFrameHeader());
  assert.equal(reader.frameType, FRAME.DATA);
  assert.equal(reader.frameLength, 0);
});
