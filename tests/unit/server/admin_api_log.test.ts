import assert from "node:assert/strict";
import { AdminApiLog } from "../../../server/admin/api_log.ts";

/** An AdminApiLog writing to a temporary file, and a reader of that file's lines. */
async function apiLog() {
  const path = await Deno.makeTempFile();
  const log = new AdminApiLog(await Deno.open(path, { append: true }));
  const lines = async () => (await Deno.readTextFile(path)).split("\n").filter((l) => l);
  const close = async () => {
    log.close();
    await Deno.remove(path);
  };
  return { log, lines, close };
}

Deno.test("admin API log: a line for an answer sent whole, with the bytes sent", async () => {
  const { log, lines, close } = await apiLog();
  try {
    const res = await log.serve(
      new Request("http://127.0.0.1/apis/v2/about"),
      "127.0.0.1:5000",
      () => new Response("12345"),
    );
    assert.equal(await res.text(), "12345");
    const [line] = await lines();
    assert.match(
      line,
      /^GET 127\.0\.0\.1:5000 \/apis\/v2\/about 200 rx:0B tx:5B start:\S+Z process:/,
    );
  } finally {
    await close();
  }
});

Deno.test("admin API log: a line for an answer its client left before its end, as a followed log", async () => {
  const { log, lines, close } = await apiLog();
  try {
    // Endless, as GET /logs?follow=true is until the client leaves.
    const endless = new ReadableStream<Uint8Array>({
      pull: (controller) => controller.enqueue(new Uint8Array(4)),
    });
    const res = await log.serve(
      new Request("http://127.0.0.1/apis/v2/logs?follow=true"),
      "127.0.0.1:5001",
      () => new Response(endless),
    );
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    const [line] = await lines();
    assert.match(line ?? "", /^GET 127\.0\.0\.1:5001 \/apis\/v2\/logs 200 rx:0B tx:\d+B /);
  } finally {
    await close();
  }
});

Deno.test("admin API log: a line for an answer whose body failed midway", async () => {
  const { log, lines, close } = await apiLog();
  try {
    let sent = false;
    const failing = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent) return controller.error(new Error("file gone"));
        sent = true;
        controller.enqueue(new Uint8Array(3));
      },
    });
    const res = await log.serve(
      new Request("http://127.0.0.1/apis/v2/logs"),
      "127.0.0.1:5002",
      () => new Response(failing),
    );
    await assert.rejects(res.text());
    const [line] = await lines();
    assert.match(line ?? "", /^GET 127\.0\.0\.1:5002 \/apis\/v2\/logs 200 rx:0B tx:3B /);
  } finally {
    await close();
  }
});

Deno.test("admin API log: rx is a chunked body's -1, as Go's ContentLength Easegress logs", async () => {
  const { log, lines, close } = await apiLog();
  try {
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("name: x\n"));
        controller.close();
      },
    });
    const requests = [
      new Request("http://127.0.0.1/apis/v2/objects", {
        method: "POST",
        body: chunked,
        headers: { "transfer-encoding": "chunked" },
      }),
      // Deno's server gives a DELETE without a body a stream too.
      new Request("http://127.0.0.1/apis/v2/objects/x", {
        method: "DELETE",
        body: new ReadableStream({ start: (controller) => controller.close() }),
      }),
      // As the server hands a request with a length over.
      new Request("http://127.0.0.1/apis/v2/objects", {
        method: "POST",
        body: "name: x\n",
        headers: { "content-length": "8" },
      }),
      new Request("http://127.0.0.1/apis/v2/objects"),
    ];
    for (const request of requests) {
      const res = await log.serve(request, "127.0.0.1:5003", async (req) => {
        await req.body?.cancel();
        return new Response(null, { status: 400 });
      });
      await res.body?.cancel();
    }
    assert.deepEqual(
      (await lines()).map((line) => line.match(/ rx:(-?\d+)B /)?.[1]),
      ["-1", "0", "8", "0"],
    );
  } finally {
    await close();
  }
});
