import assert from "node:assert/strict";
import { closeFrame, FrameLimit } from "../../../server/websocket/frame_limit.ts";

/** A frame with `length` payload bytes (zeros), masked when it goes to a server. */
function frame(opcode: number, fin: boolean, length: number, masked = false): Uint8Array {
  const head = [(fin ? 0x80 : 0) | opcode];
  const mask = masked ? 0x80 : 0;
  if (length < 126) head.push(mask | length);
  else if (length < 65536) head.push(mask | 126, length >> 8, length & 0xff);
  else {
    head.push(mask | 127, 0, 0, 0, 0);
    head.push((length >>> 24) & 0xff, (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff);
  }
  if (masked) head.push(1, 2, 3, 4);
  const out = new Uint8Array(head.length + length);
  out.set(head);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

Deno.test("FrameLimit passes messages up to the limit, whatever the length encoding", () => {
  const limit = new FrameLimit(70_000);
  const frames = [
    frame(1, true, 100, true),
    frame(2, true, 300),
    frame(2, true, 70_000, true),
    frame(9, true, 4),
  ];
  const stream = concat(...frames);
  // The last byte of each frame.
  const ends = new Set<number>();
  let at = -1;
  for (const f of frames) ends.add(at += f.length);
  assert.equal(limit.scan(stream), -1);
  assert.ok(limit.atBoundary);
  // Byte by byte too: headers and payloads split anywhere.
  const bytewise = new FrameLimit(70_000);
  for (let i = 0; i < stream.length; i++) {
    assert.equal(bytewise.scan(stream.subarray(i, i + 1)), -1);
    assert.equal(bytewise.atBoundary, ends.has(i));
  }
});

Deno.test("FrameLimit finds the frame that takes a message past the limit", () => {
  const first = frame(1, true, 10);
  const big = frame(2, true, 33_000, true);
  const limit = new FrameLimit(32_769);
  assert.equal(limit.scan(concat(first, big)), first.length);
  assert.equal(limit.splitHeader, false);
  // A fragmented message counts its continuations; a ping between them does not.
  const fragments = new FrameLimit(15);
  const start = concat(frame(1, false, 10), frame(9, false, 100));
  assert.equal(fragments.scan(start), -1);
  assert.equal(fragments.scan(frame(0, true, 6)), 0);
  assert.equal(fragments.splitHeader, false);
  // Once a message ends, the next starts from zero.
  const apart = new FrameLimit(15);
  assert.equal(apart.scan(concat(frame(1, false, 10), frame(0, true, 5), frame(1, true, 15))), -1);
  // A header that began in earlier bytes.
  const split = new FrameLimit(100);
  const over = frame(2, true, 200);
  assert.equal(split.scan(concat(frame(2, true, 1), over.subarray(0, 1))), -1);
  assert.equal(split.scan(over.subarray(1)), 0);
  assert.equal(split.splitHeader, true);
});

Deno.test("FrameLimit with -1 never finds a message too long", () => {
  const limit = new FrameLimit(-1);
  assert.equal(limit.scan(frame(2, true, 1_000_000)), -1);
  assert.ok(limit.atBoundary);
});

Deno.test("closeFrame writes the code, masked toward a server", () => {
  assert.deepEqual([...closeFrame(1009, false)], [0x88, 2, 0x03, 0xf1]);
  assert.deepEqual([...closeFrame(1001, true)], [0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe9]);
});
