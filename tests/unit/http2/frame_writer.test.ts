/**
 * FrameWriter: frames of every kind survive the buffer growing under them,
 * a turn's frames go out in one write, frames queued during a write follow
 * in the next, and a failed write is reported once.
 */

import assert from "node:assert/strict";
import { FrameWriter, IDLE_BUFFER_SIZE } from "../../../server/http2/frame_writer.ts";
import { FRAME } from "../../../server/http2/frames.ts";

/** A socket that records writes; each write resolves when `release` is called. */
function recordingSocket() {
  const writes: Uint8Array[] = [];
  let release: (() => void) | null = null;
  let fail = false;
  const socket = {
    write(bytes: Uint8Array): Promise<number> {
      if (fail) return Promise.reject(new Deno.errors.BrokenPipe("gone"));
      writes.push(bytes.slice());
      return new Promise((resolve) => release = () => resolve(bytes.length));
    },
  } as unknown as Deno.Conn;
  return {
    socket,
    writes,
    release: () => release?.(),
    failNext: () => fail = true,
  };
}

/** Splits written bytes into [type, flags, streamId, payload] frames. */
function frames(bytes: Uint8Array): [number, number, number, number[]][] {
  const out: [number, number, number, number[]][] = [];
  for (let at = 0; at < bytes.length;) {
    const length = (bytes[at] << 16) | (bytes[at + 1] << 8) | bytes[at + 2];
    const id = new DataView(bytes.buffer, bytes.byteOffset + at + 5, 4).getUint32(0);
    out.push([bytes[at + 3], bytes[at + 4], id, [...bytes.subarray(at + 9, at + 9 + length)]]);
    at += 9 + length;
  }
  return out;
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("FrameWriter: every frame kind keeps its payload while the buffer grows", async () => {
  const io = recordingSocket();
  const writer = new FrameWriter(io.socket, () => {});
  const big = new Uint8Array(IDLE_BUFFER_SIZE - 20).fill(7);
  // Each of these lands where the buffer must grow.
  writer.bytesFrame(FRAME.DATA, 1, 3, big);
  writer.uint32Frame(FRAME.RST_STREAM, 3, 0x0b);
  writer.bytesFrame(FRAME.DATA, 0, 5, big);
  writer.settings([[3, 250], [4, 0x40000]]);
  writer.bytesFrame(FRAME.DATA, 0, 7, big);
  writer.goAway(9, 1, "bye");
  writer.schedule();
  await tick();
  assert.equal(io.writes.length, 1, "one write for the turn");
  const got = frames(io.writes[0]);
  assert.deepEqual(got.map(([type, flags, id]) => [type, flags, id]), [
    [FRAME.DATA, 1, 3],
    [FRAME.RST_STREAM, 0, 3],
    [FRAME.DATA, 0, 5],
    [FRAME.SETTINGS, 0, 0],
    [FRAME.DATA, 0, 7],
    [FRAME.GOAWAY, 0, 0],
  ]);
  assert.deepEqual(got[1][3], [0, 0, 0, 0x0b]);
  assert.deepEqual(got[3][3], [0, 3, 0, 0, 0, 250, 0, 4, 0, 4, 0, 0]);
  assert.deepEqual(got[5][3], [0, 0, 0, 9, 0, 0, 0, 1, 98, 121, 101]);
  for (const i of [0, 2, 4]) assert.ok(got[i][3].every((b) => b === 7));
  io.release();
  await writer.drained();
});

Deno.test("FrameWriter: frames queued during a write go in the next; a failure is reported", async () => {
  const io = recordingSocket();
  let failures = 0;
  const writer = new FrameWriter(io.socket, () => failures++);
  writer.uint32Frame(FRAME.WINDOW_UPDATE, 0, 1000);
  writer.schedule();
  await tick();
  writer.uint32Frame(FRAME.WINDOW_UPDATE, 1, 2000);
  writer.uint32Frame(FRAME.WINDOW_UPDATE, 3, 3000);
  writer.schedule();
  assert.equal(writer.pending, 39, "one frame in flight, two queued");
  const drained = writer.drained();
  io.release();
  await tick();
  assert.equal(io.writes.length, 2);
  assert.deepEqual(frames(io.writes[1]).map(([, , id]) => id), [1, 3]);
  io.release();
  await drained;
  assert.equal(writer.busy, false);
  io.failNext();
  writer.uint32Frame(FRAME.WINDOW_UPDATE, 0, 1);
  writer.schedule();
  await tick();
  assert.equal(failures, 1);
});
