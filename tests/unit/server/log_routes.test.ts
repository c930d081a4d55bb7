import assert from "node:assert/strict";
import { LOG_ROUTES } from "../../../server/admin/log_routes.ts";
import type { ApiError } from "../../../server/admin/replies.ts";

const [route] = LOG_ROUTES;

async function withLog(text: string, use: (logFile: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  const logFile = `${dir}/stdout.log`;
  await Deno.writeTextFile(logFile, text);
  try {
    await use(logFile);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function get(
  logFile: string,
  query: string,
  signal?: AbortSignal,
  stopping = new AbortController().signal,
): Promise<Response> {
  const req = new Request(`http://127.0.0.1/apis/v2/logs${query}`, { signal });
  return await route.handler(req, [], { logFile, stopping });
}

Deno.test("GET /logs answers the last lines asked for, all with -1, 500 by default", async () => {
  const lines = Array.from({ length: 600 }, (_, i) => `line ${i}\n`).join("");
  await withLog(lines, async (logFile) => {
    assert.equal(await (await get(logFile, "?tail=2")).text(), "line 598\nline 599\n");
    assert.equal(await (await get(logFile, "?tail=0")).text(), "");
    assert.equal(await (await get(logFile, "?tail=-1")).text(), lines);
    const byDefault = await (await get(logFile, "")).text();
    assert.equal(byDefault.split("\n").length - 1, 500);
    assert.ok(byDefault.startsWith("line 100\n"));
    assert.equal(await (await get(logFile, "?tail=9999")).text(), lines);
  });
  // A last line without its newline is a line; lines longer than a read chunk are found whole.
  const long = "x".repeat(100_000);
  await withLog(`a\n${long}\nb`, async (logFile) => {
    assert.equal(await (await get(logFile, "?tail=2")).text(), `${long}\nb`);
  });
});

Deno.test("GET /logs refuses a bad tail or follow by name", async () => {
  await withLog("a\n", async (logFile) => {
    for (
      const [query, message] of [
        ["?tail=-2", /invalid tail "-2"/],
        ["?tail=ten", /invalid tail "ten"/],
        ["?follow=maybe", /invalid follow "maybe"/],
      ] as const
    ) {
      await assert.rejects(get(logFile, query), (e: ApiError) => {
        assert.equal(e.status, 400);
        assert.match(e.message, message);
        return true;
      });
    }
  });
});

Deno.test("GET /logs?follow=true goes on with what is written until the client leaves", async () => {
  await withLog("old\n", async (logFile) => {
    const leave = new AbortController();
    const response = await get(logFile, "?tail=1&follow=true", leave.signal);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    assert.equal(decoder.decode((await reader.read()).value), "old\n");
    await Deno.writeTextFile(logFile, "new\n", { append: true });
    assert.equal(decoder.decode((await reader.read()).value), "new\n");
    leave.abort();
    await reader.cancel();
  });
});

Deno.test("GET /logs?follow=true ends when the node stops", async () => {
  await withLog("old\n", async (logFile) => {
    const stop = new AbortController();
    const response = await get(logFile, "?tail=1&follow=true", undefined, stop.signal);
    const reader = response.body!.getReader();
    assert.equal(new TextDecoder().decode((await reader.read()).value), "old\n");
    const next = reader.read();
    await new Promise((resolve) => setTimeout(resolve, 300));
    stop.abort();
    assert.deepEqual(await next, { done: true, value: undefined });
  });
});
