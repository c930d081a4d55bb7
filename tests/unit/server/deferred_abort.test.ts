/**
 * Client-abort news for web requests: the request's signal is taken only
 * once a listener has waited, and then a client leaving is heard.
 */

import assert from "node:assert/strict";
import { HttpResponse } from "../../../filters/context.ts";
import {
  DeferredAbortWatch,
  deferredWatchesIdle,
  HOOK_AFTER_MS,
} from "../../../server/httpserver/deferred_abort.ts";
import { webHandler } from "../../../server/httpserver/web_handler.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A stand-in request that counts how often its signal is taken. */
function countingRequest(controller: AbortController): { request: Request; taken: () => number } {
  let taken = 0;
  const request = {
    get signal() {
      taken++;
      return controller.signal;
    },
  } as unknown as Request;
  return { request, taken: () => taken };
}

Deno.test("a watch whose listener leaves early never takes the request's signal", async () => {
  const { request, taken } = countingRequest(new AbortController());
  const watch = new DeferredAbortWatch(request);
  const listener = () => {};
  watch.addEventListener("abort", listener);
  watch.removeEventListener("abort", listener);
  assert.equal(deferredWatchesIdle(), true);
  await sleep(HOOK_AFTER_MS * 2);
  assert.equal(taken(), 0);
});

Deno.test("a listener that waits is told when the client leaves, or at once if it has left", async () => {
  const controller = new AbortController();
  const { request, taken } = countingRequest(controller);
  const watch = new DeferredAbortWatch(request);
  let heard = 0;
  watch.addEventListener("abort", () => heard++);
  await sleep(HOOK_AFTER_MS * 3);
  assert.equal(taken(), 1);
  assert.equal(deferredWatchesIdle(), true);
  controller.abort("gone");
  assert.deepEqual([heard, watch.aborted, watch.reason], [1, true, "gone"]);

  const left = new AbortController();
  left.abort("earlier");
  const late = new DeferredAbortWatch(countingRequest(left).request);
  late.addEventListener("abort", () => heard++);
  await sleep(HOOK_AFTER_MS * 3);
  assert.deepEqual([heard, late.reason], [2, "earlier"]);
});

Deno.test("through Deno.serve, a handler waiting on the client's watch hears the client leave", async () => {
  let heard: () => void;
  const heardIt = new Promise<void>((resolve) => heard = resolve);
  const handler = webHandler((_request, client) =>
    new Promise<HttpResponse>((resolve) => {
      client.abortWatch.addEventListener("abort", () => {
        heard();
        resolve(new HttpResponse(499));
      });
    }), "HTTP/1.1");
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req, info) => handler(req, () => info.remoteAddr),
  );
  const client = new AbortController();
  const answer = fetch(`http://127.0.0.1:${server.addr.port}/wait`, { signal: client.signal });
  await sleep(HOOK_AFTER_MS * 3);
  client.abort();
  await assert.rejects(answer);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    heardIt.then(() => "heard"),
    new Promise((resolve) => timer = setTimeout(() => resolve("not heard"), 2000)),
  ]);
  clearTimeout(timer);
  assert.equal(outcome, "heard");
  await server.shutdown();
});
