import assert from "node:assert/strict";
import { CtlError } from "../../../cli/errors.ts";
import { writerTo } from "../../../cli/writer.ts";

/** A stream taking at most `chunk` bytes a write, failing with `error` after `limit` bytes. */
function fakeStream(limit: number, error: Error, chunk = 4) {
  const received: number[] = [];
  let attempts = 0;
  return {
    received,
    attempts: () => attempts,
    writeSync(p: Uint8Array): number {
      attempts++;
      if (received.length >= limit) throw error;
      const n = Math.min(chunk, p.length, limit - received.length);
      received.push(...p.subarray(0, n));
      return n;
    },
  };
}

Deno.test("writerTo() writes all of each string over several writes", () => {
  const stream = fakeStream(1000, new Error("unused"));
  const write = writerTo(stream, "standard output");
  write("hello, world\n");
  assert.equal(new TextDecoder().decode(new Uint8Array(stream.received)), "hello, world\n");
});

Deno.test("writerTo() drops output quietly once the reader has closed the pipe", () => {
  const stream = fakeStream(6, new Deno.errors.BrokenPipe("Broken pipe (os error 32)"));
  const write = writerTo(stream, "standard output");
  write("- name: a\n- name: b\n"); // `ctl object list | head -c 6`
  const attempts = stream.attempts();
  write("- name: c\n");
  assert.equal(new TextDecoder().decode(new Uint8Array(stream.received)), "- name");
  assert.equal(stream.attempts(), attempts); // nothing more is tried
});

Deno.test("writerTo() reports other write failures as a ctl error naming the stream", () => {
  const stream = fakeStream(0, new Error("No space left on device (os error 28)"));
  assert.throws(
    () => writerTo(stream, "standard output")("x\n"),
    (e) =>
      e instanceof CtlError &&
      e.message === "cannot write to standard output: No space left on device (os error 28)",
  );
  // stderr has nowhere to report its own failure.
  writerTo(stream, "standard error", true)("x\n");
});

Deno.test("ctl whose reader stops early (| head -1) ends quietly with exit 0", async () => {
  const big = Array.from({ length: 20_000 }, (_, i) => `- name: object-${i}\n`).join("");
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response(big, { headers: { "content-type": "text/vnd.yaml" } }),
  );
  try {
    const main = new URL("../../../main.ts", import.meta.url).pathname;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        main,
        "ctl",
        "--server",
        `127.0.0.1:${server.addr.port}`,
        "o",
        "list",
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.getReader();
    const first = await reader.read();
    assert.ok(first.value && first.value.length > 0);
    await reader.cancel(); // closes the pipe, as head does after its line
    const [status, stderr] = await Promise.all([
      child.status,
      new Response(child.stderr).text(),
    ]);
    assert.equal(stderr, "");
    assert.equal(status.code, 0);
  } finally {
    await server.shutdown();
  }
});
