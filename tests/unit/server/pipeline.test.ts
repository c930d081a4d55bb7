import assert from "node:assert/strict";
import { Context, HttpRequest, type HttpResponse } from "../../../filters/context.ts";
import { type FilterInstance, type FilterKind, FilterRegistry } from "../../../filters/filter.ts";
import { SpecError, SpecReader } from "../../../filters/spec.ts";
import { silentLogger } from "../../../server/log.ts";
import { Pipeline } from "../../../server/pipeline/pipeline.ts";
import { readPipelineSpec } from "../../../server/pipeline/spec.ts";
import { GlobalFilter } from "../../../server/globalfilter/global_filter.ts";
import { readGlobalFilterSpec } from "../../../server/globalfilter/spec.ts";

/** A filter that records its name in ctx.data.trail and returns its `result`. */
const stepKind: FilterKind<{ result: string; async: boolean }> = {
  kind: "Step",
  description: "test step",
  results: ["jump", "stop"],
  validate(spec) {
    const r = SpecReader.root(spec);
    const out = { result: r.string("result", { default: "" }), async: r.bool("async", false) };
    r.finish();
    r.throwIfProblems();
    return out;
  },
  create(spec, env) {
    return {
      handle(ctx) {
        const trail = (ctx.data.trail ??= []) as string[];
        trail.push(`${env.name}@${ctx.namespace}`);
        return spec.async ? Promise.resolve(spec.result) : spec.result;
      },
    };
  },
};

const registry = new FilterRegistry([stepKind as FilterKind<never>]);

function pipeline(spec: Record<string, unknown>): Pipeline {
  const r = SpecReader.root(spec);
  const s = readPipelineSpec(r, "p", registry);
  r.finish();
  r.throwIfProblems();
  return new Pipeline(s, registry, () => silentLogger);
}

async function trail(p: Pipeline): Promise<string[]> {
  const ctx = new Context(new HttpRequest());
  await p.handle(ctx);
  return ctx.data.trail as string[];
}

Deno.test("pipeline runs filters in order when there is no flow", async () => {
  const p = pipeline({
    filters: [{ name: "a", kind: "Step" }, { name: "b", kind: "Step", async: true }],
  });
  assert.deepEqual(await trail(p), ["a@DEFAULT", "b@DEFAULT"]);
});

Deno.test("pipeline jumps forward, stops on an unmapped result and at END", async () => {
  const filters = [
    { name: "a", kind: "Step", result: "jump" },
    { name: "b", kind: "Step" },
    { name: "c", kind: "Step", result: "stop", async: true },
    { name: "d", kind: "Step" },
  ];
  const jumping = pipeline({
    filters,
    flow: [{ filter: "a", jumpIf: { jump: "c" } }, { filter: "b" }, { filter: "c" }, {
      filter: "d",
    }],
  });
  assert.deepEqual(await trail(jumping), ["a@DEFAULT", "c@DEFAULT"]);
  const ended = pipeline({ filters, flow: [{ filter: "b" }, { filter: "END" }, { filter: "d" }] });
  assert.deepEqual(await trail(ended), ["b@DEFAULT"]);
  const toEnd = pipeline({
    filters,
    flow: [{ filter: "a", jumpIf: { jump: "END" } }, { filter: "b" }],
  });
  assert.deepEqual(await trail(toEnd), ["a@DEFAULT"]);
  // Easegress maps the empty result too: a jump on success.
  const onSuccess = pipeline({
    filters,
    flow: [{ filter: "b", jumpIf: { "": "d" } }, { filter: "a" }, { filter: "d" }],
  });
  assert.deepEqual(await trail(onSuccess), ["b@DEFAULT", "d@DEFAULT"]);
  // A success sent to END ends the run as END, which skips a GlobalFilter's later stages.
  const successToEnd = pipeline({
    filters,
    flow: [{ filter: "b", jumpIf: { "": "END" } }, { filter: "a" }],
  });
  assert.equal(await successToEnd.handle(new Context(new HttpRequest())), "END");
});

Deno.test("a timed request is tagged with each filter run, its result and time", async () => {
  const p = pipeline({
    filters: [
      { name: "a", kind: "Step", result: "jump" },
      { name: "b", kind: "Step" },
      { name: "c", kind: "Step", async: true },
    ],
    flow: [{ filter: "a", jumpIf: { jump: "c" } }, { filter: "b" }, { filter: "c" }],
  });
  const timed = new Context(new HttpRequest());
  timed.timed = true;
  await p.handle(timed);
  assert.equal(timed.tags.length, 1);
  const took = String.raw`(\d[\d.]*(ns|µs|ms)|0s)`;
  assert.match(
    timed.tags[0],
    new RegExp(String.raw`^pipeline\(p\): a\(jump,${took}\)->c\(${took}\)$`),
  );
  // Untimed, as without an access log: no tag, no clock reads.
  const plain = new Context(new HttpRequest());
  await p.handle(plain);
  assert.deepEqual(plain.tags, []);
});

Deno.test("pipeline aliases reuse a filter and namespaces switch per step", async () => {
  const p = pipeline({
    filters: [{ name: "a", kind: "Step" }, { name: "b", kind: "Step", result: "jump" }],
    flow: [
      { filter: "b", jumpIf: { jump: "second" } },
      { filter: "a", namespace: "one" },
      { filter: "a", alias: "second", namespace: "two" },
    ],
  });
  assert.deepEqual(await trail(p), ["b@DEFAULT", "a@two"]);
});

Deno.test("pipeline runs a filter named twice in the flow, and jumps to its next step", async () => {
  // Easegress's cookbook runs one RequestBuilder in several namespaces without aliases.
  const p = pipeline({
    filters: [
      { name: "a", kind: "Step" },
      { name: "b", kind: "Step", result: "jump" },
      { name: "c", kind: "Step" },
    ],
    flow: [
      { filter: "a", namespace: "one" },
      { filter: "b", jumpIf: { jump: "a" } },
      { filter: "c" },
      { filter: "a", namespace: "two" },
      { filter: "a", namespace: "three" },
    ],
  });
  assert.deepEqual(await trail(p), ["a@one", "b@DEFAULT", "a@two", "a@three"]);
});

Deno.test("pipeline validation names backward jumps, unknown results and filters", () => {
  const filters = [{ name: "a", kind: "Step" }, { name: "b", kind: "Step" }];
  const cases: [unknown[], RegExp][] = [
    [
      [{ filter: "a" }, { filter: "b", jumpIf: { jump: "a" } }],
      /flow\[1\]\.jumpIf\.jump: "a" must come later/,
    ],
    [
      [{ filter: "a", jumpIf: { other: "END" } }],
      /flow\[0\]\.jumpIf\.other: "other" is not a result of Step/,
    ],
    [[{ filter: "zzz" }], /flow\[0\]\.filter: no filter named "zzz"/],
    [
      [{ filter: "a" }, { filter: "b", jumpIf: { jump: "a" } }, { filter: "a", alias: "c" }],
      /flow\[1\]\.jumpIf\.jump: "a" must come later/,
    ],
  ];
  for (const [flow, message] of cases) {
    assert.throws(
      () => pipeline({ filters, flow }),
      (e: Error) => e instanceof SpecError && message.test(e.message),
    );
  }
});

Deno.test("pipeline turns a throwing filter into a 500 response", async () => {
  const throwing: FilterKind<Record<string, never>> = {
    kind: "Boom",
    description: "",
    results: [],
    validate: () => ({}),
    create: () => ({
      handle: () => {
        throw new Error("boom");
      },
    }),
  };
  const reg = new FilterRegistry([throwing as FilterKind<never>]);
  const r = SpecReader.root({ filters: [{ name: "x", kind: "Boom" }] });
  const p = new Pipeline(readPipelineSpec(r, "p", reg), reg, () => silentLogger);
  const ctx = new Context(new HttpRequest());
  await p.handle(ctx);
  assert.equal((ctx.response as HttpResponse).status, 500);
});

Deno.test("pipeline data is given to filters as .data.PIPELINE; a non-map is refused", async () => {
  const data = { foo: "bar", list: [1, 2] };
  const p = pipeline({ data, filters: [{ name: "a", kind: "Step" }] });
  assert.deepEqual(p.spec.data, data);
  const ctx = new Context(new HttpRequest());
  await p.handle(ctx);
  assert.deepEqual(ctx.data.PIPELINE, data);
  assert.throws(
    () => pipeline({ data: [1], filters: [{ name: "a", kind: "Step" }] }),
    /data: must be a map/,
  );
});

Deno.test("pipeline takes the cookbook's protocol: MQTT (or HTTP) and drops it; another is refused", () => {
  const filters = [{ name: "a", kind: "Step" }];
  for (const protocol of ["MQTT", "HTTP", "mqtt"]) {
    assert.equal("protocol" in pipeline({ protocol, filters }).spec, false);
  }
  assert.throws(
    () => pipeline({ protocol: "TCP", filters }),
    /protocol: must be one of HTTP, MQTT, got "TCP"/,
  );
});

Deno.test("a v1 CircuitBreaker, Retryer or TimeLimiter filter is told where v2 moved it", () => {
  const cases: [string, RegExp][] = [
    [
      "CircuitBreaker",
      /kind: CircuitBreaker is an Easegress v1 filter; since v2 it is a CircuitBreaker in the pipeline's `resilience` list, named in a Proxy pool's `circuitBreakerPolicy`/,
    ],
    [
      "Retryer",
      /kind: Retryer is an Easegress v1 filter; since v2 it is a Retry in the pipeline's `resilience` list/,
    ],
    [
      "TimeLimiter",
      /kind: TimeLimiter is an Easegress v1 filter; since v2 it is a Proxy pool's `timeout`/,
    ],
  ];
  for (const [kind, message] of cases) {
    assert.throws(() => pipeline({ filters: [{ name: "x", kind, policies: [] }] }), message);
  }
});

Deno.test("a GlobalFilter's before stage sees the routed pipeline's data", async () => {
  const r = SpecReader.root({
    beforePipeline: { data: { own: 1 }, filters: [{ name: "b", kind: "Step" }] },
  });
  const gf = new GlobalFilter(
    readGlobalFilterSpec(r, "gf", registry),
    registry,
    () => silentLogger,
  );
  r.finish();
  r.throwIfProblems();
  const main = pipeline({ data: { foo: "bar" }, filters: [{ name: "a", kind: "Step" }] });
  const ctx = new Context(new HttpRequest());
  let seen: unknown;
  await gf.handle(ctx, {
    data: main.data,
    handle(c) {
      seen = c.data.PIPELINE;
      return main.handle(c);
    },
  });
  assert.deepEqual(seen, { foo: "bar" });
  assert.deepEqual(ctx.data.trail, ["b@DEFAULT", "a@DEFAULT"]);
});

Deno.test("pipeline fails a filter whose handle gives no result string, naming what it gave", async () => {
  const lines: string[] = [];
  const log = { ...silentLogger, error: (m: string) => lines.push(m) };
  const forgetful: FilterKind<{ async: boolean }> = {
    kind: "Forgetful",
    description: "",
    results: [],
    validate: (spec) => ({ async: spec.async === true }),
    create: (spec) => ({
      handle: (ctx) => {
        (ctx.data.trail ??= []) as string[];
        // A handle without its `return`, as a plugin not type-checked may have.
        return (spec.async ? Promise.resolve(undefined) : undefined) as unknown as string;
      },
    }),
  };
  const reg = new FilterRegistry([forgetful as FilterKind<never>, stepKind as FilterKind<never>]);
  for (const async of [false, true]) {
    const r = SpecReader.root({
      filters: [{ name: "x", kind: "Forgetful", async }, { name: "after", kind: "Step" }],
    });
    const p = new Pipeline(readPipelineSpec(r, "p", reg), reg, () => log);
    const ctx = new Context(new HttpRequest());
    await p.handle(ctx);
    assert.equal((ctx.response as HttpResponse).status, 500, `async: ${async}`);
    assert.deepEqual(ctx.data.trail, [], "the flow stops at the failed filter");
    assert.match(
      lines.pop() ?? "",
      /filter x failed: TypeError: handle gave undefined, not a result/,
    );
  }
});

Deno.test("a kind's validate or create throwing a value that is no Error is reported by that value", () => {
  const throwing = (where: string): FilterKind<Record<string, never>> => ({
    kind: `Throws${where}`,
    description: "",
    results: [],
    validate: () => {
      if (where === "Validate") throw "no good spec";
      return {};
    },
    create: () => {
      throw "cannot start";
    },
  });
  const reg = new FilterRegistry([
    throwing("Validate") as FilterKind<never>,
    throwing("Create") as FilterKind<never>,
  ]);
  const read = (kind: string) => {
    const r = SpecReader.root({ filters: [{ name: "x", kind }] });
    const spec = readPipelineSpec(r, "p", reg);
    r.throwIfProblems();
    return spec;
  };
  assert.throws(
    () => read("ThrowsValidate"),
    (e: Error) => e instanceof SpecError && /filters\[0\]: no good spec/.test(e.message),
  );
  assert.throws(
    () => new Pipeline(read("ThrowsCreate"), reg, () => silentLogger),
    /filter x: cannot start/,
  );
});

Deno.test("a kind's create throwing an Error fails the pipeline naming the filter", () => {
  const refusing: FilterKind<Record<string, never>> = {
    kind: "Refusing",
    description: "",
    results: [],
    validate: () => ({}),
    create: () => {
      throw new RangeError("pools[0].circuitBreakerPolicy: no room");
    },
  };
  const reg = new FilterRegistry([refusing as FilterKind<never>]);
  const r = SpecReader.root({
    filters: [{ name: "a" }, { name: "b" }].map((f) => ({ ...f, kind: "Refusing" })),
  });
  const spec = readPipelineSpec(r, "p", reg);
  r.throwIfProblems();
  // With several filters of a kind, the field alone does not say which one failed.
  assert.throws(
    () => new Pipeline(spec, reg, () => silentLogger),
    (e: Error) => e.message === "filter a: pools[0].circuitBreakerPolicy: no room",
  );
});

Deno.test("a kind whose create gives no instance (an async create) fails the pipeline, saying so", () => {
  const asyncCreate: FilterKind<Record<string, never>> = {
    kind: "AsyncCreate",
    description: "",
    results: [],
    validate: () => ({}),
    create: (() => Promise.resolve({ handle: () => "" })) as unknown as () => FilterInstance,
  };
  const reg = new FilterRegistry([asyncCreate as FilterKind<never>]);
  const r = SpecReader.root({ filters: [{ name: "x", kind: "AsyncCreate" }] });
  const spec = readPipelineSpec(r, "p", reg);
  r.throwIfProblems();
  assert.throws(
    () => new Pipeline(spec, reg, () => silentLogger),
    /filter x: AsyncCreate's create gave a Promise \(create must not be async\), not a filter instance/,
  );
});

Deno.test("a kind whose create returns nothing fails the pipeline, asking about the return", () => {
  const noReturn: FilterKind<Record<string, never>> = {
    kind: "NoReturn",
    description: "",
    results: [],
    validate: () => ({}),
    create: (() => {}) as unknown as () => FilterInstance,
  };
  const reg = new FilterRegistry([noReturn as FilterKind<never>]);
  const r = SpecReader.root({ filters: [{ name: "x", kind: "NoReturn" }] });
  const spec = readPipelineSpec(r, "p", reg);
  r.throwIfProblems();
  assert.throws(
    () => new Pipeline(spec, reg, () => silentLogger),
    /filter x: NoReturn's create gave undefined \(a missing return\?\), not a filter instance/,
  );
});

Deno.test("a filter whose status throws shows the error as its status; the others' stand", () => {
  const failing: FilterKind<Record<string, never>> = {
    kind: "BadStatus",
    description: "",
    results: [],
    validate: () => ({}),
    create: () => ({
      handle: () => "",
      status: () => {
        throw new Error("no status");
      },
    }),
  };
  const reg = new FilterRegistry([failing as FilterKind<never>, stepKind as FilterKind<never>]);
  const r = SpecReader.root({
    filters: [{ name: "x", kind: "BadStatus" }, { name: "y", kind: "Step" }],
  });
  const spec = readPipelineSpec(r, "p", reg);
  r.throwIfProblems();
  const p = new Pipeline(spec, reg, () => silentLogger);
  assert.deepEqual(p.status(), {
    health: "",
    filters: { x: { error: "status failed: no status" }, y: null },
  });
});
