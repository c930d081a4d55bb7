import assert from "node:assert/strict";
import { HttpRequest, HttpResponse } from "../../../filters/context.ts";
import { ResponseCache } from "../../../filters/proxy/response_cache.ts";

const SPEC = { expiration: "10s", maxEntryBytes: 64, codes: [200, 201], methods: ["GET", "HEAD"] };

function get(target = "/a", headers: Record<string, string> = {}, method = "GET"): HttpRequest {
  const [path, query = ""] = target.split("?");
  return new HttpRequest({ method, path, query, host: "gw.example", headers });
}

function answer(
  body: string | ReadableStream<Uint8Array> | null = "hello",
  headers: Record<string, string> = {},
  status = 200,
): HttpResponse {
  return new HttpResponse(status, { "content-type": "text/plain", ...headers }, body);
}

/** Offers `response` for `request` and says whether the next identical request is a hit. */
function kept(cache: ResponseCache, request: HttpRequest, response: HttpResponse): boolean {
  const key = cache.keyOf(request);
  if (key === undefined) return false;
  cache.offer(key, request, response);
  return cache.lookup(key, request) !== undefined;
}

Deno.test("ResponseCache: a kept answer comes back with its status, fields, body and an Age", async () => {
  const cache = new ResponseCache(SPEC);
  const request = get("/a?id=1");
  const key = cache.keyOf(request)!;
  assert.equal(cache.lookup(key, request), undefined);
  cache.offer(key, request, answer("hello", { etag: '"1"' }, 201));
  const hit = cache.lookup(key, request, performance.now() + 2500)!;
  assert.equal(hit.status, 201);
  assert.equal(hit.header("etag"), '"1"');
  assert.equal(hit.header("age"), "2");
  assert.equal(hit.header("content-length"), "5");
  assert.equal(await hit.text(), "hello");
  // A filter changing the hit's fields does not change what is kept.
  hit.headers.set("etag", '"2"');
  assert.equal(cache.lookup(key, request)!.header("etag"), '"1"');
  assert.deepEqual(cache.counts(), { hits: 2, misses: 1, entries: 1, bytes: cache.counts().bytes });
});

Deno.test("ResponseCache: the key has the method, host, path and query; listed methods only", () => {
  const cache = new ResponseCache(SPEC);
  assert.notEqual(cache.keyOf(get("/a?id=1")), cache.keyOf(get("/a?id=2")));
  assert.notEqual(cache.keyOf(get("/a")), cache.keyOf(get("/a", {}, "HEAD")));
  assert.equal(cache.keyOf(get("/a", {}, "POST")), undefined);
  assert.equal(cache.keyOf(get("/a", { "cache-control": "no-cache" })), undefined);
  assert.ok(kept(cache, get("/b?id=1"), answer("one")));
  assert.equal(cache.lookup(cache.keyOf(get("/b?id=2"))!, get("/b?id=2")), undefined);
});

Deno.test("ResponseCache: what must not be shared or kept is not", () => {
  const cache = new ResponseCache(SPEC);
  const cases: [string, HttpRequest, HttpResponse][] = [
    ["unlisted code", get(), answer("x", {}, 404)],
    ["Set-Cookie", get(), answer("x", { "set-cookie": "s=1" })],
    ["private", get(), answer("x", { "cache-control": "private, max-age=60" })],
    ["no-store", get(), answer("x", { "cache-control": "no-store" })],
    ["no-cache", get(), answer("x", { "cache-control": "max-age=0, no-cache" })],
    ["must-revalidate", get(), answer("x", { "cache-control": "must-revalidate" })],
    ["request no-store", get("/a", { "cache-control": "no-store" }), answer("x")],
    ["Authorization", get("/a", { authorization: "Bearer t" }), answer("x")],
    ["Vary: *", get(), answer("x", { vary: "*" })],
    ["over maxEntryBytes", get(), answer("x".repeat(65))],
  ];
  for (const [what, request, response] of cases) {
    assert.equal(kept(cache, request, response), false, what);
  }
  assert.ok(kept(cache, get("/p"), answer("x", { "cache-control": "no-transform" })));
  assert.ok(
    kept(
      cache,
      get("/q", { authorization: "Bearer t" }),
      answer("x", { "cache-control": "public" }),
    ),
  );
});

Deno.test("ResponseCache: Vary fields must match; expired answers are dropped", () => {
  const cache = new ResponseCache(SPEC);
  const gzip = get("/v", { "accept-encoding": "gzip" });
  const key = cache.keyOf(gzip)!;
  cache.offer(key, gzip, answer("zipped", { vary: "Accept-Encoding" }));
  assert.ok(cache.lookup(key, gzip));
  assert.equal(cache.lookup(key, get("/v", { "accept-encoding": "br" })), undefined);
  assert.equal(cache.lookup(key, get("/v")), undefined);
  assert.equal(cache.lookup(key, gzip, performance.now() + 10_001), undefined);
  assert.equal(cache.counts().entries, 0);
});

Deno.test("ResponseCache: a part or a 304 is served only for the same Range and validators", () => {
  const cache = new ResponseCache({ ...SPEC, codes: [200, 206, 304, 412, 416] });
  const key = cache.keyOf(get("/f"))!;
  const ranged = get("/f", { range: "bytes=0-3" });
  cache.offer(key, ranged, answer("hell", { "content-range": "bytes 0-3/5" }, 206));
  assert.equal(cache.lookup(key, get("/f")), undefined);
  assert.equal(cache.lookup(key, get("/f", { range: "bytes=1-3" })), undefined);
  assert.equal(cache.lookup(key, ranged)?.status, 206);
  const conditional = get("/f", { "if-none-match": '"1"' });
  cache.offer(key, conditional, answer(null, { etag: '"1"' }, 304));
  assert.equal(cache.lookup(key, get("/f")), undefined);
  assert.equal(cache.lookup(key, get("/f", { "if-none-match": '"2"' })), undefined);
  assert.equal(cache.lookup(key, conditional)?.status, 304);
  // A whole answer is anyone's, whatever the request that brought it asked.
  cache.offer(key, get("/f", { "if-none-match": '"0"' }), answer("hello", { etag: '"1"' }));
  assert.equal(cache.lookup(key, get("/f"))?.status, 200);
  assert.equal(cache.lookup(key, ranged)?.status, 200);
});

Deno.test("ResponseCache: a streamed body is kept once it has reached the client whole", async () => {
  const cache = new ResponseCache(SPEC);
  const streamOf = (...parts: string[]) =>
    new ReadableStream<Uint8Array>({
      start(c) {
        for (const part of parts) c.enqueue(new TextEncoder().encode(part));
        c.close();
      },
    });
  const request = get("/s");
  const key = cache.keyOf(request)!;
  const response = answer(streamOf("ab", "cd"), { "transfer-encoding": "chunked" });
  cache.offer(key, request, response);
  assert.equal(cache.lookup(key, request), undefined, "not before the body has been read");
  assert.equal(await response.text(), "abcd");
  const hit = cache.lookup(key, request)!;
  assert.equal(await hit.text(), "abcd");
  assert.equal(hit.header("transfer-encoding"), null);
  assert.equal(hit.header("content-length"), "4");

  const long = get("/long");
  const longKey = cache.keyOf(long)!;
  const big = answer(streamOf("x".repeat(40), "y".repeat(40)));
  cache.offer(longKey, long, big);
  assert.equal((await big.text()).length, 80);
  assert.equal(cache.lookup(longKey, long), undefined);

  const cut = get("/cut");
  const cutKey = cache.keyOf(cut)!;
  const cancelled = answer(streamOf("a", "b"));
  cache.offer(cutKey, cut, cancelled);
  await (cancelled.body as ReadableStream).cancel();
  assert.equal(cache.lookup(cutKey, cut), undefined);
});

Deno.test("ResponseCache: past its byte bound the oldest answers go first", () => {
  const cache = new ResponseCache(SPEC, 400);
  for (let i = 0; i < 10; i++) assert.ok(kept(cache, get(`/${i}`), answer("x".repeat(60))));
  const { entries, bytes } = cache.counts();
  assert.ok(bytes <= 400, `${bytes} bytes`);
  assert.ok(entries < 10 && entries > 0);
  assert.equal(cache.lookup(cache.keyOf(get("/0"))!, get("/0")), undefined);
  assert.ok(cache.lookup(cache.keyOf(get("/9"))!, get("/9")));
});

Deno.test("ResponseCache: a streamed answer is kept with its fields as offered, not as later changed", async () => {
  const cache = new ResponseCache(SPEC);
  const request = get("/z");
  const key = cache.keyOf(request)!;
  const response = answer(
    new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode("plain"));
        c.close();
      },
    }),
  );
  cache.offer(key, request, response);
  // As the Proxy's compression does after the pool's send: the client's answer is gzipped.
  response.headers.set("content-encoding", "gzip");
  response.headers.set("vary", "Accept-Encoding");
  assert.equal(await response.text(), "plain");
  const hit = cache.lookup(key, get("/z"))!;
  assert.equal(hit.header("content-encoding"), null);
  assert.equal(await hit.text(), "plain");
});

Deno.test("ResponseCache: an answer's own s-maxage or max-age, less its Age, ends its stay sooner", () => {
  const cache = new ResponseCache(SPEC);
  const keep = (path: string, headers: Record<string, string>) => {
    const request = get(path);
    const key = cache.keyOf(request)!;
    cache.offer(key, request, answer("x", headers));
    return (after: number) => cache.lookup(key, request, performance.now() + after);
  };
  const maxAge = keep("/m", { "cache-control": "public, max-age=2" });
  assert.ok(maxAge(1500));
  assert.equal(maxAge(2100), undefined, "past max-age, though expiration is 10s");
  const shared = keep("/s", { "cache-control": 'max-age=60, s-maxage="1"' });
  assert.equal(shared(1100), undefined, "s-maxage rules a shared cache");
  const aged = keep("/a", { "cache-control": "max-age=5", age: "3" });
  const hit = aged(1000)!;
  assert.equal(hit.header("age"), "4", "the upstream's Age counts");
  assert.equal(aged(2100), undefined);
  assert.equal(keep("/z", { "cache-control": "max-age=0" })(0), undefined, "stale at once");
  assert.equal(keep("/old", { "cache-control": "max-age=5", age: "9" })(0), undefined);
  assert.ok(keep("/long", { "cache-control": "max-age=3600" })(9000), "expiration still bounds");
  assert.equal(keep("/long2", { "cache-control": "max-age=3600" })(10_001), undefined);
});
