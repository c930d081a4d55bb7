import assert from "node:assert/strict";
import { AbortNotice } from "../../../filters/abort_watch.ts";
import { type FilterKind, FilterRegistry } from "../../../filters/filter.ts";
import { proxyKind } from "../../../filters/proxy/proxy.ts";
import {
  CircuitBreaker,
  type CircuitBreakerSpec,
  REJECTED,
  Retry,
  validatePolicy,
} from "../../../filters/proxy/resilience.ts";
import { SpecReader } from "../../../filters/spec.ts";
import { SharedRegions } from "../../../filters/shared_regions.ts";
import { readPipelineSpec } from "../../../server/pipeline/spec.ts";
import { silentLogger } from "../../../server/log.ts";

function fakeClock(): { now: () => number; advance(ms: number): void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => t += ms };
}

function breaker(fields: Partial<CircuitBreakerSpec>, clock = fakeClock()): CircuitBreaker {
  return new CircuitBreaker(validatePolicy("CircuitBreaker", fields), { now: clock.now });
}

/** Makes a call through `cb`: returns whether it was permitted. */
function call(cb: CircuitBreaker, failed: boolean, durationMs = 1): boolean {
  const permit = cb.acquire();
  if (permit === REJECTED) return false;
  cb.record(permit, failed, durationMs);
  return true;
}

Deno.test("validatePolicy fills Easegress defaults", () => {
  assert.deepEqual(validatePolicy("Retry", {}), {
    maxAttempts: 3,
    waitDuration: "500ms",
    backOffPolicy: "random",
    randomizationFactor: 0,
  });
  assert.deepEqual(validatePolicy("CircuitBreaker", { name: "cb", kind: "CircuitBreaker" }), {
    slidingWindowType: "COUNT_BASED",
    failureRateThreshold: 50,
    slowCallRateThreshold: 100,
    slowCallDurationThreshold: "1m",
    slidingWindowSize: 100,
    permittedNumberOfCallsInHalfOpenState: 10,
    minimumNumberOfCalls: 100,
    maxWaitDurationInHalfOpenState: "0s",
    waitDurationInOpenState: "1m",
    countingNetworkError: false,
  });
});

Deno.test("validatePolicy takes backOffPolicy in any case, as Easegress's docs spell it", () => {
  for (const spelling of ["exponential", "Exponential", "EXPONENTIAL"]) {
    const spec = validatePolicy("Retry", { backOffPolicy: spelling }) as { backOffPolicy: string };
    assert.equal(spec.backOffPolicy, "exponential");
  }
  const spec = validatePolicy("Retry", { backOffPolicy: "RANDOM" }) as { backOffPolicy: string };
  assert.equal(spec.backOffPolicy, "random");
});

Deno.test("validatePolicy names each bad field", () => {
  const cases: [unknown, RegExp][] = [
    [{ maxAttempts: 0 }, /maxAttempts: must be at least 1/],
    [{ backOffPolicy: "fibonacci" }, /backOffPolicy: must be random or exponential/],
    [{ randomizationFactor: 1.5 }, /randomizationFactor: must be at most 1/],
    [{ waitDuration: "soon" }, /waitDuration: must be a duration/],
    [{ retries: 2 }, /retries: unknown field/],
  ];
  for (const [spec, message] of cases) assert.throws(() => validatePolicy("Retry", spec), message);
  assert.throws(
    () => validatePolicy("CircuitBreaker", { failureRateThreshold: 0 }),
    /failureRateThreshold: must be at least 1/,
  );
  // At 0 every call is slow: the breaker would open on healthy traffic.
  assert.throws(
    () => validatePolicy("CircuitBreaker", { slowCallDurationThreshold: "0s" }),
    /slowCallDurationThreshold: must be longer than 0/,
  );
  // None permitted half-open would keep an opened breaker open for good.
  assert.throws(
    () => validatePolicy("CircuitBreaker", { permittedNumberOfCallsInHalfOpenState: 0 }),
    /permittedNumberOfCallsInHalfOpenState: must be at least 1, got 0/,
  );
  assert.throws(
    () => validatePolicy("CircuitBreaker", { slidingWindowType: "count_based" }),
    /slidingWindowType: must be one of COUNT_BASED, TIME_BASED/,
  );
});

Deno.test("retry stops at the first success and waits between failed attempts", async () => {
  const retry = new Retry(validatePolicy("Retry", { maxAttempts: 5, waitDuration: "1ms" }));
  const results = ["serverError", "timeout", "", "serverError"];
  let attempts = 0;
  let retries = 0;
  const signal = new AbortController().signal;
  const out = await retry.run(() => results[attempts++], () => retries++, signal);
  assert.deepEqual([out, attempts, retries], ["", 3, 2]);

  attempts = 0;
  const failing = new Retry(validatePolicy("Retry", { maxAttempts: 2, waitDuration: "1ms" }));
  assert.equal(
    await failing.run(() => (attempts++, "failureCode"), () => {}, signal),
    "failureCode",
  );
  assert.equal(attempts, 2);
});

Deno.test("retry answers at once after its last attempt, without waiting", async () => {
  const retry = new Retry(validatePolicy("Retry", { maxAttempts: 1, waitDuration: "1h" }));
  const client = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise((resolve) => timer = setTimeout(resolve, 1_000, "still waiting"));
  const out = retry.run(() => "serverError", () => {}, client.signal);
  assert.equal(await Promise.race([out, late]), "serverError");
  clearTimeout(timer);
  client.abort(); // ends a wait, had there been one
  await out;
});

Deno.test("retry stops waiting when the client goes away", async () => {
  const retry = new Retry(validatePolicy("Retry", { maxAttempts: 3, waitDuration: "1h" }));
  const client = new AbortController();
  let attempts = 0;
  const out = retry.run(
    () => {
      attempts++;
      queueMicrotask(() => client.abort());
      return "serverError";
    },
    () => {},
    client.signal,
  );
  assert.equal(await out, "serverError");
  assert.equal(attempts, 1);
});

Deno.test("retry waits on the client's light abort watch, as the server offers it", async () => {
  const retry = new Retry(validatePolicy("Retry", { maxAttempts: 3, waitDuration: "1h" }));
  const client = new AbortNotice();
  let attempts = 0;
  const out = retry.run(() => (attempts++, "serverError"), () => {}, client);
  await new Promise((resolve) => setTimeout(resolve, 10));
  client.abort();
  assert.equal(await out, "serverError");
  assert.equal(attempts, 1);
});

Deno.test("retry waits past setTimeout's range (about 24.8 days) rather than not at all", async () => {
  const retry = new Retry(validatePolicy("Retry", { maxAttempts: 2, waitDuration: "720h" }));
  const client = new AbortController();
  let attempts = 0;
  const out = retry.run(() => (attempts++, "serverError"), () => {}, client.signal);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(attempts, 1);
  client.abort();
  assert.equal(await out, "serverError");
  assert.equal(attempts, 1);
});

Deno.test("retry waits base·(1−f) + uniform[0, 2·base·f]", () => {
  const spec = validatePolicy("Retry", { waitDuration: "100ms", randomizationFactor: 0.5 });
  assert.equal(new Retry(spec, { random: () => 0 }).waitFor(100), 50);
  assert.equal(new Retry(spec, { random: () => 0.5 }).waitFor(100), 100);
  const zero = validatePolicy("Retry", { waitDuration: "0s" });
  assert.equal(new Retry(zero).waitFor(500), 500);
});

Deno.test("count-based breaker opens at the failure rate once minimumNumberOfCalls is reached", () => {
  const cb = breaker({ slidingWindowSize: 4, minimumNumberOfCalls: 4, failureRateThreshold: 50 });
  assert.ok(call(cb, true));
  assert.ok(call(cb, true));
  assert.ok(call(cb, false));
  assert.equal(cb.state, "CLOSED"); // 3 calls < minimum 4
  assert.ok(call(cb, false)); // 2 of 4 failed: 50%
  assert.equal(cb.state, "OPEN");
  assert.equal(call(cb, false), false);
});

Deno.test("a count-based breaker's minimumNumberOfCalls fits in its window", () => {
  // The default 100 would never be reached by a window of 4 calls: it is cut to 4.
  const spec = validatePolicy("CircuitBreaker", { slidingWindowSize: 4 });
  assert.equal(spec.minimumNumberOfCalls, 4);
  const cb = breaker({ slidingWindowSize: 4 });
  for (let i = 0; i < 4; i++) assert.equal(call(cb, true), true);
  assert.equal(cb.state, "OPEN");
  // So is one written out (as stored specs have the default); a time window keeps it.
  const written = validatePolicy("CircuitBreaker", {
    slidingWindowSize: 4,
    minimumNumberOfCalls: 100,
  });
  assert.equal(written.minimumNumberOfCalls, 4);
  const timed = validatePolicy("CircuitBreaker", {
    slidingWindowType: "TIME_BASED",
    slidingWindowSize: 4,
  });
  assert.equal(timed.minimumNumberOfCalls, 100);
});

Deno.test("count-based breaker forgets calls that left the window", () => {
  const cb = breaker({ slidingWindowSize: 3, minimumNumberOfCalls: 3, failureRateThreshold: 60 });
  call(cb, true);
  call(cb, false);
  call(cb, false); // 33%
  call(cb, false); // the failure left: 0%
  call(cb, true); // 33%
  assert.equal(cb.state, "CLOSED");
  call(cb, true); // 66%
  assert.equal(cb.state, "OPEN");
});

Deno.test("breaker half-opens after waitDurationInOpenState, then closes or reopens", () => {
  const clock = fakeClock();
  const cb = breaker({
    slidingWindowSize: 2,
    minimumNumberOfCalls: 2,
    permittedNumberOfCallsInHalfOpenState: 2,
    waitDurationInOpenState: "10s",
  }, clock);
  call(cb, true);
  call(cb, true);
  assert.equal(cb.state, "OPEN");
  clock.advance(9_999);
  assert.equal(call(cb, false), false);
  clock.advance(1);
  const first = cb.acquire();
  assert.equal(cb.state, "HALF_OPEN");
  const second = cb.acquire();
  assert.equal(cb.acquire(), REJECTED); // only 2 permitted
  cb.record(first, false, 1);
  cb.record(second, false, 1);
  assert.equal(cb.state, "CLOSED");

  call(cb, true);
  call(cb, true);
  clock.advance(10_000);
  call(cb, true);
  call(cb, false); // 50% in half-open
  assert.equal(cb.state, "OPEN");
});

Deno.test("breaker ignores results of calls permitted in an earlier state", () => {
  const cb = breaker({ slidingWindowSize: 2, minimumNumberOfCalls: 2 });
  const stale = cb.acquire();
  call(cb, true);
  call(cb, true);
  assert.equal(cb.state, "OPEN");
  cb.record(stale, false, 1);
  assert.equal(cb.state, "OPEN");
});

Deno.test("breaker reopens when half-open waits longer than maxWaitDurationInHalfOpenState", () => {
  const clock = fakeClock();
  const cb = breaker({
    slidingWindowSize: 1,
    minimumNumberOfCalls: 1,
    permittedNumberOfCallsInHalfOpenState: 1,
    waitDurationInOpenState: "1s",
    maxWaitDurationInHalfOpenState: "5s",
  }, clock);
  call(cb, true);
  clock.advance(1_000);
  assert.notEqual(cb.acquire(), REJECTED); // the one permitted call never reports
  assert.equal(cb.acquire(), REJECTED);
  assert.equal(cb.state, "HALF_OPEN");
  clock.advance(5_000);
  assert.equal(cb.acquire(), REJECTED);
  assert.equal(cb.state, "OPEN");
});

Deno.test("a call whose client left counts as slow once it ran long enough, else not at all", () => {
  const clock = fakeClock();
  const cb = breaker({
    slidingWindowSize: 2,
    minimumNumberOfCalls: 2,
    slowCallDurationThreshold: "1s",
    permittedNumberOfCallsInHalfOpenState: 1,
    waitDurationInOpenState: "1s",
  }, clock);
  for (let i = 0; i < 5; i++) cb.abandon(cb.acquire(), 10);
  assert.equal(cb.state, "CLOSED");
  cb.abandon(cb.acquire(), 1_000);
  cb.abandon(cb.acquire(), 2_000);
  assert.equal(cb.state, "OPEN"); // both slow: 100 %

  clock.advance(1_000);
  const probe = cb.acquire();
  assert.equal(cb.state, "HALF_OPEN");
  assert.equal(cb.acquire(), REJECTED);
  cb.abandon(probe, 10);
  // Its permit is given back: another call may decide.
  assert.equal(call(cb, false), true);
  assert.equal(cb.state, "CLOSED");
});

Deno.test("breaker opens on the slow-call rate", () => {
  const cb = breaker({
    slidingWindowSize: 2,
    minimumNumberOfCalls: 2,
    slowCallRateThreshold: 100,
    slowCallDurationThreshold: "100ms",
  });
  call(cb, false, 150);
  call(cb, false, 99);
  assert.equal(cb.state, "CLOSED");
  call(cb, false, 100);
  call(cb, false, 500);
  assert.equal(cb.state, "OPEN");
});

Deno.test("time-based breaker counts only the last slidingWindowSize seconds", () => {
  const clock = fakeClock();
  const cb = breaker({
    slidingWindowType: "TIME_BASED",
    slidingWindowSize: 2,
    minimumNumberOfCalls: 3,
  }, clock);
  call(cb, true);
  call(cb, true);
  clock.advance(2_000); // both failures leave the window
  call(cb, false);
  call(cb, false);
  call(cb, true);
  assert.equal(cb.state, "CLOSED"); // 1 of 3 failed
  call(cb, true); // 2 of 4
  assert.equal(cb.state, "OPEN");
});

const registry = new FilterRegistry([proxyKind as FilterKind<never>]);

function pipeline(raw: Record<string, unknown>) {
  const r = SpecReader.root(raw);
  const spec = readPipelineSpec(r, "p", registry);
  r.throwIfProblems();
  return spec;
}

const proxyFilter = (pool: Record<string, unknown>) => ({
  name: "proxy",
  kind: "Proxy",
  pools: [{ servers: [{ url: "http://127.0.0.1:1" }], ...pool }],
});

Deno.test("pipeline validation normalizes policies and checks pool references", () => {
  const spec = pipeline({
    filters: [proxyFilter({ retryPolicy: "retry3", circuitBreakerPolicy: "cb" })],
    resilience: [
      { name: "retry3", kind: "Retry", waitDuration: "10ms" },
      { name: "cb", kind: "CircuitBreaker", slidingWindowSize: 10 },
    ],
  });
  assert.equal(spec.resilience?.[0].maxAttempts, 3);
  // The default 100, cut to the 10 calls the window holds.
  assert.equal(spec.resilience?.[1].minimumNumberOfCalls, 10);

  assert.throws(
    () => pipeline({ filters: [proxyFilter({ retryPolicy: "x" })] }),
    /filters\[0\]\.pools\[0\]\.retryPolicy: no Retry policy named "x"/,
  );
  assert.throws(
    () =>
      pipeline({
        filters: [proxyFilter({ circuitBreakerPolicy: "r" })],
        resilience: [{ name: "r", kind: "Retry" }],
      }),
    /filters\[0\]\.pools\[0\]\.circuitBreakerPolicy: no CircuitBreaker policy named "r"/,
  );
  assert.throws(
    () =>
      pipeline({
        filters: [proxyFilter({})],
        resilience: [{ name: "cb", kind: "CircuitBreaker", failureRateThreshold: 101 }],
      }),
    /resilience\[0\]\.failureRateThreshold: must be at most 100/,
  );
  assert.throws(
    () =>
      pipeline({
        filters: [proxyFilter({})],
        resilience: [{ name: "a", kind: "Retry" }, { name: "a", kind: "Retry" }],
      }),
    /resilience\[1\]\.name: duplicate policy "a"/,
  );
  assert.throws(
    () =>
      pipeline({ filters: [proxyFilter({})], resilience: [{ name: "t", kind: "TimeLimiter" }] }),
    /resilience\[0\]\.kind: must be one of Retry, CircuitBreaker/,
  );
});

Deno.test("pipeline validation reports a pool's missing policy along with its other problems", () => {
  assert.throws(
    () => pipeline({ filters: [proxyFilter({ retryPolicy: "nope", timeout: "1x" })] }),
    (e: Error) => {
      // All at once, as the admin API answers them: fixing one does not reveal the next.
      assert.match(e.message, /filters\[0\]\.pools\[0\]\.timeout: must be a duration/);
      assert.match(
        e.message,
        /filters\[0\]\.pools\[0\]\.retryPolicy: no Retry policy named "nope"/,
      );
      return true;
    },
  );
});

Deno.test("breakers sharing a region are one breaker, counting every call", () => {
  const regions = SharedRegions.create(256 * 1024);
  const clock = fakeClock();
  const spec = validatePolicy("CircuitBreaker", {
    slidingWindowSize: 10,
    minimumNumberOfCalls: 10,
    failureRateThreshold: 50,
    permittedNumberOfCallsInHalfOpenState: 2,
    waitDurationInOpenState: "10s",
  });
  const shared = { regions, name: "pipeline/proxy/0" };
  const a = new CircuitBreaker(spec, { now: clock.now, shared });
  const b = new CircuitBreaker(spec, { now: clock.now, shared });
  // Five failures through each: neither saw the minimum of ten alone.
  for (let i = 0; i < 5; i++) {
    call(a, true);
    call(b, true);
  }
  assert.equal(a.state, "OPEN");
  assert.equal(b.state, "OPEN");
  assert.equal(call(b, false), false);
  clock.advance(10_000);
  // Half-open lets two calls through in all, not two per breaker.
  const permits = [a.acquire(), b.acquire(), a.acquire()];
  assert.equal(permits[2], REJECTED);
  a.record(permits[0], false, 1);
  b.record(permits[1], false, 1);
  assert.equal(a.state, "CLOSED");
  // One closing keeps the state for the other; the last one frees it.
  for (let i = 0; i < 10; i++) call(a, true);
  a.close();
  assert.equal(b.state, "OPEN");
  b.close();
  assert.equal(regions.used, 0);
  assert.equal(new CircuitBreaker(spec, { now: clock.now, shared }).state, "CLOSED");
});

Deno.test("a closed breaker keeps its memory until the calls it permitted are recorded", () => {
  const regions = SharedRegions.create(256 * 1024);
  const spec = validatePolicy("CircuitBreaker", { slidingWindowSize: 10, minimumNumberOfCalls: 1 });
  const old = new CircuitBreaker(spec, { shared: { regions, name: "old" } });
  const permit = old.acquire();
  // A pipeline update replaces the breaker while its call runs; another is made.
  old.close();
  const next = new CircuitBreaker(spec, { shared: { regions, name: "next" } });
  old.record(permit, true, 1);
  // The old call's failure is not the new breaker's.
  assert.equal(next.state, "CLOSED");
  assert.equal(regions.used, 1);
  // A late request of the replaced pipeline passes without touching freed memory.
  old.record(old.acquire(), true, 1);
  assert.equal(next.state, "CLOSED");
  next.close();
  assert.equal(regions.used, 0);
});

Deno.test("a shared time-based breaker forgets seconds that left its window", () => {
  const regions = SharedRegions.create(256 * 1024);
  const clock = fakeClock();
  const spec = validatePolicy("CircuitBreaker", {
    slidingWindowType: "TIME_BASED",
    slidingWindowSize: 3,
    minimumNumberOfCalls: 4,
  });
  const shared = { regions, name: "t" };
  const a = new CircuitBreaker(spec, { now: clock.now, shared });
  const b = new CircuitBreaker(spec, { now: clock.now, shared });
  call(a, true);
  clock.advance(1_000);
  call(b, true);
  clock.advance(2_000); // the first failure left; the second is 2 s old
  call(a, false);
  call(b, false);
  assert.equal(a.state, "CLOSED"); // 3 calls, under the minimum
  clock.advance(10_000); // everything left
  call(a, false);
  call(b, false);
  call(a, true);
  assert.equal(a.state, "CLOSED"); // 1 of 3
  call(b, true); // 2 of 4
  assert.equal(a.state, "OPEN");
});

Deno.test("a breaker's window is bounded, and the error names the field", () => {
  assert.throws(
    () => validatePolicy("CircuitBreaker", { slidingWindowSize: 2_000_000 }),
    /slidingWindowSize/,
  );
  assert.throws(
    () =>
      validatePolicy("CircuitBreaker", {
        slidingWindowType: "TIME_BASED",
        slidingWindowSize: 90_000,
      }),
    /slidingWindowSize/,
  );
  const spec = validatePolicy("CircuitBreaker", {
    slidingWindowType: "TIME_BASED",
    slidingWindowSize: 86_400,
  });
  assert.equal(spec.slidingWindowSize, 86_400);
});

Deno.test("a breaker with no room in the shared memory is refused naming its pool and policy", async () => {
  // Room for one day-long TIME_BASED window (2.7 MB), not for two.
  const regions = SharedRegions.create(4 * 1024 * 1024);
  const policy = {
    kind: "CircuitBreaker",
    slidingWindowType: "TIME_BASED",
    slidingWindowSize: 86_400,
  };
  const create = (name: string) =>
    proxyKind.create(
      proxyKind.validate({
        pools: [{ servers: [{ url: "http://127.0.0.1:1" }], circuitBreakerPolicy: "day" }],
      }),
      {
        pipeline: "p",
        name,
        log: silentLogger,
        resilience: (n) => n === "day" ? { name: n, ...policy } : undefined,
        sharedRegions: regions,
      },
    );
  const first = create("a");
  try {
    assert.throws(
      () => create("b"),
      (e: Error) => {
        assert.match(
          e.message,
          /^pools\[0\]\.circuitBreakerPolicy: no room for breaker "day" in the node's shared memory: 2764880 bytes wanted, \d+ bytes are free in one piece$/,
        );
        // Not the memory's internal name for it, which holds the whole pool and policy.
        assert.doesNotMatch(e.message, /servers/);
        return true;
      },
    );
  } finally {
    await first.close?.();
  }
});
