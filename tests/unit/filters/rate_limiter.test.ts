import assert from "node:assert/strict";
import { Context, HttpRequest, HttpResponse } from "../../../filters/context.ts";
import { rateLimiterKind } from "../../../filters/rate_limiter.ts";
import { SharedRateLimiter, SharedSlots } from "../../../filters/shared_slots.ts";
import { SpecError } from "../../../filters/spec.ts";
import { silentLogger } from "../../../server/log.ts";

/** What a pipeline gives its RateLimiter "rl", with `sharedSlots` as the isolates' table. */
function filterEnv(sharedSlots: SharedSlots) {
  return {
    pipeline: "pl",
    name: "rl",
    log: silentLogger,
    resilience: () => undefined,
    sharedSlots,
  };
}

Deno.test("shared rate limiter lets `limit` requests through per period, then asks to wait for a later period or refuses", () => {
  const slots = SharedSlots.create();
  const now = 10_000_000_000n;
  const limiter = new SharedRateLimiter(slots, "a", 5, 1_000_000, 0, now);
  const verdicts = Array.from({ length: 7 }, () => limiter.acquire(now));
  assert.deepEqual(verdicts, [0, 0, 0, 0, 0, -1, -1]);
  // No turn comes back before the period ends, as in Easegress: the limit
  // is per period, not spread over it.
  assert.equal(limiter.acquire(now + 200_000n), -1);
  assert.equal(limiter.acquire(now + 999_999n), -1);
  const next = Array.from({ length: 6 }, () => limiter.acquire(now + 1_000_000n));
  assert.deepEqual(next, [0, 0, 0, 0, 0, -1]);

  const patient = new SharedRateLimiter(slots, "b", 1, 1_000_000, 2_000_000, now);
  assert.equal(patient.acquire(now), 0);
  assert.equal(patient.acquire(now), 1_000_000);
  assert.equal(patient.acquire(now), 2_000_000);
  assert.equal(patient.acquire(now), -1);

  // Mid-period, the waits run to the starts of the next periods.
  const later = new SharedRateLimiter(slots, "c", 1, 1_000_000, 2_000_000, now);
  const mid = now + 250_000n;
  assert.deepEqual(
    Array.from({ length: 4 }, () => later.acquire(mid)),
    [0, 750_000, 1_750_000, -1],
  );
});

Deno.test("shared rate limiter periods start when the first isolate made it", () => {
  const slots = SharedSlots.create();
  const made = 10_000_000_000n;
  const first = new SharedRateLimiter(slots, "a", 1, 1_000_000, 0, made);
  // Another isolate makes the same limiter later: the periods stay the first one's.
  const second = new SharedRateLimiter(slots, "a", 1, 1_000_000, 0, made + 500_000n);
  assert.equal(second.acquire(made + 900_000n), 0);
  assert.equal(first.acquire(made + 999_999n), -1);
  assert.equal(first.acquire(made + 1_000_000n), 0);
  assert.equal(second.acquire(made + 1_400_000n), -1);
});

Deno.test("shared rate limiter state is exact across isolates sharing the buffer", async () => {
  const slots = SharedSlots.create(undefined, 3);
  const source = `
    import { SharedRateLimiter, SharedSlots } from "${
    new URL("../../../filters/shared_slots.ts", import.meta.url).href
  }";
    self.onmessage = (e) => {
      // One new turn an hour: refills cannot blur the count while the test runs.
      const limiter = new SharedRateLimiter(new SharedSlots(e.data.buffer, e.data.holder), "x", 1000, 1000 * 3_600_000_000, 0);
      let passed = 0;
      for (let i = 0; i < 800; i++) if (limiter.acquire() >= 0) passed++;
      self.postMessage(passed);
    };`;
  const url = `data:application/typescript;base64,${btoa(source)}`;
  const workers = [0, 1, 2].map(() => new Worker(url, { type: "module" }));
  const counts = await Promise.all(workers.map((w, holder) =>
    new Promise<number>((resolve) => {
      w.onmessage = (e) => resolve(e.data);
      w.postMessage({ buffer: slots.buffer, holder });
    })
  ));
  workers.forEach((w) => w.terminate());
  assert.equal(counts.reduce((a, b) => a + b, 0), 1000);
});

Deno.test("RateLimiter answers 429 with X-EG-Rate-Limiter past the limit", async () => {
  const spec = rateLimiterKind.validate({
    policies: [{ name: "p", limitForPeriod: 2, limitRefreshPeriod: "10s", timeoutDuration: "0s" }],
    defaultPolicyRef: "p",
    urls: [{ methods: ["GET"], url: { prefix: "/api" } }],
  });
  const filter = rateLimiterKind.create(spec, filterEnv(SharedSlots.create()));
  const run = async (path: string, method = "GET") => {
    const ctx = new Context(new HttpRequest({ path, method }));
    return [await filter.handle(ctx), (ctx.response as HttpResponse | undefined)?.status] as const;
  };
  assert.deepEqual(await run("/api/a"), ["", undefined]);
  assert.deepEqual(await run("/api/b"), ["", undefined]);
  assert.deepEqual(await run("/api/c"), ["rateLimited", 429]);
  assert.deepEqual(await run("/other"), ["", undefined]);
  assert.deepEqual(await run("/api/a", "POST"), ["", undefined]);
  const ctx = new Context(new HttpRequest({ path: "/api" }));
  await filter.handle(ctx);
  assert.equal(ctx.response?.header("x-eg-rate-limiter"), "too-many-requests");
  assert.ok(ctx.tags.includes("rateLimiter: too many requests"));

  // A response an earlier filter made (a CORSAdaptor's, say) is the one
  // answered, with the 429 status and header: its headers are kept.
  const earlier = new Context(new HttpRequest({ path: "/api" }));
  earlier.response = new HttpResponse(200, { "access-control-allow-origin": "*" });
  assert.equal(await filter.handle(earlier), "rateLimited");
  assert.equal(earlier.response.status, 429);
  assert.equal(earlier.response.header("x-eg-rate-limiter"), "too-many-requests");
  assert.equal(earlier.response.header("access-control-allow-origin"), "*");
});

Deno.test("RateLimiter waits for a later turn, no longer once the client has gone", async () => {
  const spec = rateLimiterKind.validate({
    policies: [{
      name: "p",
      limitForPeriod: 1,
      limitRefreshPeriod: "300ms",
      timeoutDuration: "1s",
    }],
    defaultPolicyRef: "p",
    urls: [{ url: { prefix: "/" } }],
  });
  const filter = rateLimiterKind.create(spec, filterEnv(SharedSlots.create()));
  assert.equal(await filter.handle(new Context(new HttpRequest({ path: "/" }))), "");
  const gone = new AbortController();
  gone.abort();
  const left = new Context(new HttpRequest({ path: "/" }), { signal: gone.signal });
  let started = performance.now();
  assert.equal(await filter.handle(left), "");
  assert.ok(performance.now() - started < 150, "a gone client does not wait");
  const patient = new Context(new HttpRequest({ path: "/" }));
  started = performance.now();
  assert.equal(await filter.handle(patient), "");
  assert.ok(performance.now() - started >= 250, "waits for its period");
  assert.ok(patient.tags.some((t) => t.startsWith("rateLimiter: waiting duration: ")));
});

Deno.test("RateLimiter spec names unknown policies", () => {
  assert.throws(
    () =>
      rateLimiterKind.validate({
        policies: [{ name: "p" }],
        urls: [{ url: { exact: "/" }, policyRef: "q" }],
      }),
    (e: Error) =>
      e instanceof SpecError && /urls\[0\]\.policyRef: no policy named "q"/.test(e.message),
  );
});

Deno.test("RateLimiter spec refuses two policies of one name", () => {
  assert.throws(
    () =>
      rateLimiterKind.validate({
        policies: [{ name: "p", limitForPeriod: 1 }, { name: "p", limitForPeriod: 100 }],
        defaultPolicyRef: "p",
        urls: [{ url: { prefix: "/" } }],
      }),
    (e: Error) =>
      e instanceof SpecError && /policies\[1\]\.name: duplicate policy "p"/.test(e.message),
  );
});

Deno.test("RateLimiter spec refuses methods that are not HTTP methods as written", () => {
  assert.throws(
    () =>
      rateLimiterKind.validate({
        policies: [{ name: "p" }],
        defaultPolicyRef: "p",
        urls: [{ methods: ["GET", "post"], url: { prefix: "/" } }],
      }),
    (e: Error) =>
      e instanceof SpecError &&
      /urls\[0\]\.methods\[1\]: "post" is not an HTTP method/.test(e.message),
  );
});

Deno.test("shared cells are freed by their last holder and reused, past the table's size", () => {
  const slots = SharedSlots.create(16);
  const now = 10_000_000_000n;
  // Two isolates hold the same limiter: one closing leaves its count with the other.
  const a = new SharedRateLimiter(slots, "kept", 1, 1_000_000, 0, now);
  const b = new SharedRateLimiter(slots, "kept", 1, 1_000_000, 0, now);
  assert.equal(a.acquire(now), 0);
  a.close();
  assert.equal(b.acquire(now), -1);
  // Far more limiters than cells over time, as rule changes make and close them.
  for (let i = 0; i < 500; i++) {
    const limiter = new SharedRateLimiter(slots, `rule ${i}`, 1, 1_000_000, 0, now);
    assert.equal(limiter.acquire(now), 0, "a reused cell starts afresh");
    limiter.close();
  }
  assert.equal(slots.used, 2);
  b.close();
  assert.equal(slots.used, 0);
  // Held cells are never handed out twice: a full table says so.
  const held = Array.from({ length: 8 }, (_, i) => new SharedRateLimiter(slots, `h${i}`, 1, 1, 0));
  assert.throws(() => new SharedRateLimiter(slots, "one more", 1, 1, 0), /all 16 cells are used/);
  held.forEach((limiter) => limiter.close());
});

Deno.test("RateLimiter updates keep an unchanged rule's count and free a changed one's cells", async () => {
  const slots = SharedSlots.create();
  const make = (limit: number) =>
    rateLimiterKind.create(
      rateLimiterKind.validate({
        policies: [{ name: "p", limitForPeriod: limit, limitRefreshPeriod: "1h" }],
        defaultPolicyRef: "p",
        urls: [{ url: { prefix: "/" } }],
      }),
      filterEnv(slots),
    );
  const status = async (filter: ReturnType<typeof make>) => {
    const ctx = new Context(new HttpRequest({ path: "/" }));
    await filter.handle(ctx);
    return ctx.response?.status ?? 200;
  };
  const first = make(1);
  assert.equal(await status(first), 200);
  // Built before the old one closes, as pipelines are updated.
  const same = make(1);
  await first.close?.();
  assert.equal(await status(same), 429);
  const changed = make(2);
  await same.close?.();
  assert.equal(await status(changed), 200);
  assert.equal(slots.used, 2, "the changed rule's two cells only");
  await changed.close?.();
  assert.equal(slots.used, 0);
});

Deno.test("a rule keeps its count when an update puts another rule before it", async () => {
  const slots = SharedSlots.create();
  const policies = [{ name: "p", limitForPeriod: 1, limitRefreshPeriod: "1h" }];
  const api = { url: { prefix: "/api" } };
  const make = (urls: unknown[]) =>
    rateLimiterKind.create(
      rateLimiterKind.validate({ policies, defaultPolicyRef: "p", urls }),
      filterEnv(slots),
    );
  const status = async (filter: ReturnType<typeof make>) => {
    const ctx = new Context(new HttpRequest({ path: "/api/x" }));
    await filter.handle(ctx);
    return ctx.response?.status ?? 200;
  };
  const first = make([api]);
  assert.equal(await status(first), 200);
  const moved = make([{ url: { exact: "/admin" } }, api]);
  await first.close?.();
  assert.equal(await status(moved), 429);
  await moved.close?.();
  assert.equal(slots.used, 0);
});

Deno.test("a crashed worker's cells are given up for it: a cell only it held starts afresh", () => {
  const slots = SharedSlots.create(16, 2);
  const worker1 = new SharedSlots(slots.buffer, 1);
  const now = 10_000_000_000n;
  const both = [slots, worker1].map((s) => new SharedRateLimiter(s, "both", 1, 1_000_000, 0, now));
  const alone = new SharedRateLimiter(worker1, "alone", 1, 1_000_000, 0, now);
  assert.equal(alone.acquire(now), 0);
  assert.equal(both[1].acquire(now), 0);
  slots.releaseHolder(1);
  assert.equal(slots.used, 2, 'worker 0\'s two cells of "both" stay');
  assert.equal(both[0].acquire(now), -1, "its count too");
  const replacement = new SharedRateLimiter(worker1, "alone", 1, 1_000_000, 0, now);
  assert.equal(replacement.acquire(now), 0, "a cell nobody held any more starts afresh");
});

Deno.test("RateLimiter urls with spaces or non-ASCII letters limit the escaped paths requests come with", async () => {
  const spec = rateLimiterKind.validate({
    policies: [{ name: "p", limitForPeriod: 1, limitRefreshPeriod: "10s", timeoutDuration: "0s" }],
    defaultPolicyRef: "p",
    urls: [{ url: { prefix: "/café/" } }, { url: { exact: "/a b" } }],
  });
  const filter = rateLimiterKind.create(spec, filterEnv(SharedSlots.create()));
  const run = async (path: string) => await filter.handle(new Context(new HttpRequest({ path })));
  assert.equal(await run("/caf%C3%A9/menu"), "");
  assert.equal(await run("/caf%C3%A9/menu"), "rateLimited");
  assert.equal(await run("/a%20b"), "");
  assert.equal(await run("/a%20b"), "rateLimited");
});
