/** `serve --workers 2`: traffic served by two isolates on one port, stats merged. */

import assert from "node:assert/strict";
import {
  eventually,
  freePort,
  type NodeProcess,
  request,
  startNodeProcess,
  statusesOnNewConnections,
} from "./helpers.ts";

/** A plugin whose filter throws from a timer, where nothing catches it. */
const CRASH_PLUGIN = new URL("../fixtures/crash_filter.ts", import.meta.url).pathname;
/** A plugin whose filter keeps its isolate busy for `?ms=` milliseconds. */
const STALL_PLUGIN = new URL("../fixtures/stall_filter.ts", import.meta.url).pathname;

/** Creates the Pipeline `p` from `pipeline` and an HTTPServer `s` on `port` routing to it. */
async function createPipelineAndServer(node: NodeProcess, pipeline: string, port: number) {
  assert.equal((await node.ctl(["object", "create"], pipeline)).code, 0);
  const server = `kind: HTTPServer\nname: s\nport: ${port}\nrules:\n  - paths:\n    - backend: p\n`;
  assert.equal((await node.ctl(["object", "create"], server)).code, 0);
}

/** A pipeline "ok" whose Mock answers `body`. */
function mockPipeline(body: string): string {
  return `name: ok\nkind: Pipeline\nfilters:\n- {name: m, kind: Mock, rules: [{code: 200, body: ${body}}]}\n`;
}

/** A node of two workers that knows the Stall filter kind, its admin API on `apiPort`. */
function startStallNode(apiPort: number): Promise<NodeProcess> {
  return startNodeProcess({ args: ["--workers", "2", "--plugin", STALL_PLUGIN], apiPort });
}

/** Pipeline "ok" answering `body`, pipeline "stall" holding its worker at /stall, server "s". */
function stallableServer(port: number, body: string): string {
  return `${mockPipeline(body)}---
name: stall
kind: Pipeline
filters:
- {name: s, kind: Stall}
---
kind: HTTPServer
name: s
port: ${port}
rules:
- paths:
  - {path: /stall, backend: stall}
  - {pathPrefix: /, backend: ok}
`;
}

/** Waits until both workers of `node` have created server "s". */
async function bothWorkersServe(node: NodeProcess): Promise<void> {
  await eventually("both workers serve", async () => {
    const log = await Deno.readTextFile(`${node.homeDir}/log/stdout.log`);
    return /worker-0\tcreated server s/.test(log) && /worker-1\tcreated server s/.test(log);
  });
}

/** Pipeline "ok" answering `body`, pipeline "crash" crashing its isolate at /crash, server "s". */
function crashableServer(port: number, body: string): string {
  return `${mockPipeline(body)}---
name: crash
kind: Pipeline
filters:
- {name: c, kind: Crash}
---
kind: HTTPServer
name: s
port: ${port}
rules:
- paths:
  - {path: /crash, backend: crash}
  - {pathPrefix: /, backend: ok}
`;
}

Deno.test("workers: two data-plane isolates share a port and report one merged status", async () => {
  const node = await startNodeProcess({ args: ["--workers", "2"] });
  const port = freePort();
  try {
    const pipeline =
      "name: p\nkind: Pipeline\nfilters:\n  - name: m\n    kind: Mock\n    rules:\n      - code: 200\n        body: hi\n";
    await createPipelineAndServer(node, pipeline, port);
    await eventually(
      "served",
      async () => (await request(`http://127.0.0.1:${port}/`)).body === "hi",
    );
    // New connections each time, so the kernel spreads them over both listeners.
    const total = 40;
    for (let i = 0; i < total; i++) {
      const r = await fetch(`http://127.0.0.1:${port}/n`, { headers: { connection: "close" } });
      assert.equal(await r.text(), "hi");
    }
    const status = JSON.parse(
      (await node.ctl(["-o", "json", "object", "status", "get", "s"])).stdout,
    );
    const doc = status["eg-default-name"];
    assert.ok(doc.count >= total, `merged count ${doc.count}`);
    assert.ok(doc.p99 > 0 && doc.p99 <= doc.max, `merged p99 ${doc.p99}, max ${doc.max}`);
    assert.equal(JSON.stringify(status).includes("latencyBuckets"), false);
    const log = await Deno.readTextFile(`${node.homeDir}/log/stdout.log`);
    assert.match(log, /worker-0\tcreated server s/);
    assert.match(log, /worker-1\tcreated server s/);
  } finally {
    await node.stop();
  }
});

Deno.test("workers: a rate limit holds exactly across two workers", async () => {
  const node = await startNodeProcess({ args: ["--workers", "2"] });
  const port = freePort();
  try {
    const pipeline = `name: p
kind: Pipeline
filters:
  - name: limit
    kind: RateLimiter
    policies:
      - name: ten
        limitForPeriod: 10
        limitRefreshPeriod: 10h
        timeoutDuration: 0s
    defaultPolicyRef: ten
    urls:
      - url: {prefix: /limited}
  - name: m
    kind: Mock
    rules:
      - code: 200
        body: ok
`;
    await createPipelineAndServer(node, pipeline, port);
    await eventually(
      "served",
      async () => (await request(`http://127.0.0.1:${port}/free`)).body === "ok",
    );
    const codes = await statusesOnNewConnections(`http://127.0.0.1:${port}/limited`, 30);
    assert.equal(codes.filter((c) => c === 200).length, 10, codes.join(" "));
    assert.equal(codes.filter((c) => c === 429).length, 20);
  } finally {
    await node.stop();
  }
});

Deno.test("workers: a circuit breaker counts the calls of both workers as one", async () => {
  let upstreamCalls = 0;
  const upstream = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    upstreamCalls++;
    return new Response("down", { status: 500 });
  });
  const node = await startNodeProcess({ args: ["--workers", "2"] });
  const port = freePort();
  try {
    const pipeline = `name: p
kind: Pipeline
resilience:
  - name: cb
    kind: CircuitBreaker
    slidingWindowSize: 10
    minimumNumberOfCalls: 10
    failureRateThreshold: 50
    waitDurationInOpenState: 1h
filters:
  - name: proxy
    kind: Proxy
    pools:
      - servers: [{url: "http://127.0.0.1:${upstream.addr.port}"}]
        failureCodes: [500]
        circuitBreakerPolicy: cb
`;
    await createPipelineAndServer(node, pipeline, port);
    await eventually(
      "served",
      async () => (await request(`http://127.0.0.1:${port}/`)).status === 500,
    );
    // Wait until both workers serve the pipeline; the request above was the breaker's first call.
    await eventually("both workers run the pipeline", async () => {
      const log = await Deno.readTextFile(`${node.homeDir}/log/stdout.log`);
      return /worker-0\tcreated server s/.test(log) && /worker-1\tcreated server s/.test(log);
    });
    // Spread over both workers: with a breaker per worker, neither would see the ten calls
    // that open it.
    const codes = await statusesOnNewConnections(`http://127.0.0.1:${port}/`, 20);
    assert.equal(upstreamCalls, 10, codes.join(" "));
    assert.deepEqual(codes.slice(9), Array(11).fill(503), codes.join(" "));
  } finally {
    await node.stop();
    await upstream.shutdown();
  }
});

Deno.test("workers: roundRobin goes round the servers in order whichever worker serves", async () => {
  const upstreams = [0, 1, 2].map((i) =>
    Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response(`u${i}`))
  );
  const node = await startNodeProcess({ args: ["--workers", "2"] });
  const port = freePort();
  try {
    const servers = upstreams.map((u) => `{url: "http://127.0.0.1:${u.addr.port}"}`).join(", ");
    const pipeline =
      `name: p\nkind: Pipeline\nfilters:\n  - name: proxy\n    kind: Proxy\n    pools:\n      - servers: [${servers}]\n`;
    await createPipelineAndServer(node, pipeline, port);
    await eventually("both workers run the pipeline", async () => {
      const log = await Deno.readTextFile(`${node.homeDir}/log/stdout.log`);
      return /worker-0\tcreated server s/.test(log) && /worker-1\tcreated server s/.test(log);
    });
    // New connections each time, so the kernel spreads them over both workers' listeners.
    const answers: string[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: "close" } });
      answers.push(await r.text());
    }
    const first = Number(answers[0].slice(1));
    const expected = answers.map((_, i) => `u${(first + i) % 3}`);
    assert.deepEqual(answers, expected);
  } finally {
    await node.stop();
    for (const u of upstreams) await u.shutdown();
  }
});

Deno.test("workers: one health checker for a pool node-wide, whose verdict both workers follow", async () => {
  let probes = 0;
  const up = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    if (new URL(req.url).pathname === "/health") probes++;
    return new Response("up");
  });
  const down = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("down", { status: 503 }),
  );
  const node = await startNodeProcess({ args: ["--workers", "2"] });
  const port = freePort();
  try {
    const servers = [up, down].map((u) => `{url: "http://127.0.0.1:${u.addr.port}"}`).join(", ");
    const pipeline = `name: p\nkind: Pipeline\nfilters:\n  - name: proxy\n    kind: Proxy\n` +
      `    pools:\n      - servers: [${servers}]\n` +
      `        loadBalance: {policy: roundRobin, healthCheck: {interval: 500ms, uri: /health}}\n`;
    await createPipelineAndServer(node, pipeline, port);
    await eventually("both workers run the pipeline", async () => {
      const log = await Deno.readTextFile(`${node.homeDir}/log/stdout.log`);
      return /worker-0\tcreated server s/.test(log) && /worker-1\tcreated server s/.test(log);
    });
    const from = probes;
    await new Promise((r) => setTimeout(r, 3000));
    // Six rounds in 3 s: one checker's, where each worker checking made twelve.
    const rounds = probes - from;
    assert.ok(rounds >= 4 && rounds <= 8, `${rounds} probes in 3 s at an interval of 500ms`);
    // Whichever worker serves, the failing server is out.
    const answers = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const r = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: "close" } });
      answers.add(await r.text());
    }
    assert.deepEqual([...answers], ["up"]);
  } finally {
    await node.stop();
    await up.shutdown();
    await down.shutdown();
  }
});

Deno.test("workers: a worker that crashes is replaced and serves again with the same objects", async () => {
  const node = await startNodeProcess({ args: ["--workers", "2", "--plugin", CRASH_PLUGIN] });
  const port = freePort();
  try {
    assert.equal((await node.ctl(["object", "create"], crashableServer(port, "fine"))).code, 0);
    await eventually(
      "served",
      async () => (await request(`http://127.0.0.1:${port}/`)).body === "fine",
    );
    // Crash one worker (whichever takes the connection).
    assert.equal((await request(`http://127.0.0.1:${port}/crash`)).body, "crashing");
    await eventually("the crash logged and the worker replaced", async () => {
      const log = await Deno.readTextFile(`${node.homeDir}/log/stdout.log`);
      return /crashed: .*crash on purpose/.test(log) && /worker \d replaced/.test(log);
    }, 10_000);
    // Both workers answer again: new connections spread over their listeners.
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`http://127.0.0.1:${port}/n`, { headers: { connection: "close" } });
      assert.equal(await r.text(), "fine");
    }
    const status = JSON.parse(
      (await node.ctl(["-o", "json", "object", "status", "get", "s"])).stdout,
    );
    assert.equal(status["eg-default-name"].state, "running");
  } finally {
    await node.stop();
  }
});

Deno.test("an error nothing catches in the main isolate is logged and the node serves on", async () => {
  // No workers: the data plane runs in the main isolate, with the admin API.
  const node = await startNodeProcess({ args: ["--workers", "0", "--plugin", CRASH_PLUGIN] });
  const port = freePort();
  try {
    await createPipelineAndServer(
      node,
      "name: p\nkind: Pipeline\nfilters:\n- {name: c, kind: Crash}\n",
      port,
    );
    await eventually(
      "served",
      async () => (await request(`http://127.0.0.1:${port}/`)).status === 200,
    );
    await eventually("the error logged", async () => {
      const log = await Deno.readTextFile(`${node.homeDir}/log/stdout.log`);
      return /uncaught error, the node goes on: .*crash on purpose/.test(log);
    });
    assert.equal((await request(`http://127.0.0.1:${port}/`)).body, "crashing");
    assert.equal((await node.ctl(["health"])).code, 0);
  } finally {
    assert.equal(await node.stop(), 0);
  }
});

Deno.test("workers: while a crashed worker is replaced, status answers and updates apply", async () => {
  const node = await startNodeProcess({ args: ["--workers", "2", "--plugin", CRASH_PLUGIN] });
  const port = freePort();
  const api = `http://${node.apiAddr}/apis/v1`;
  try {
    assert.equal((await node.ctl(["object", "create"], crashableServer(port, "one"))).code, 0);
    await eventually(
      "served",
      async () => (await request(`http://127.0.0.1:${port}/`)).body === "one",
    );
    assert.equal((await request(`http://127.0.0.1:${port}/crash`)).body, "crashing");
    await eventually("the crash logged", async () => {
      const log = await Deno.readTextFile(`${node.homeDir}/log/stdout.log`);
      return /crashed: .*crash on purpose/.test(log);
    });
    // Within the second before the replacement starts: the other worker answers for the node.
    const status = await fetch(`${api}/status/objects/s`);
    assert.equal(status.status, 200, await status.text());
    const update = await fetch(`${api}/objects/ok`, {
      method: "PUT",
      headers: { "content-type": "application/yaml" },
      body: mockPipeline("two"),
    });
    assert.equal(update.status, 200, await update.text());
    assert.doesNotMatch(
      await Deno.readTextFile(`${node.homeDir}/log/stdout.log`),
      /replaced/,
      "the update was made before the replacement started",
    );
    await eventually("the worker replaced", async () => {
      const log = await Deno.readTextFile(`${node.homeDir}/log/stdout.log`);
      return /worker \d replaced/.test(log);
    }, 10_000);
    // A later change reaches both workers too.
    assert.equal((await node.ctl(["object", "update"], mockPipeline("three"))).code, 0);
    await eventually("both workers serve the last change", async () => {
      const bodies = await Promise.all(
        Array.from(
          { length: 10 },
          () => request(`http://127.0.0.1:${port}/n`, { headers: { connection: "close" } }),
        ),
      );
      return bodies.every((r) => r.body === "three");
    });
    assert.doesNotMatch(
      await Deno.readTextFile(`${node.homeDir}/log/stdout.log`),
      /cannot apply|unhandled/,
    );
  } finally {
    await node.stop();
  }
});

Deno.test("workers: a worker that does not answer is left out of the status, which answers", async () => {
  const node = await startStallNode(29501);
  const port = 29502;
  try {
    assert.equal((await node.ctl(["object", "create"], stallableServer(port, "fine"))).code, 0);
    await bothWorkersServe(node);
    // One worker busy for 15 s, as a filter stuck in a loop would keep it.
    const stalled = request(`http://127.0.0.1:${port}/stall?ms=15000`);
    await new Promise((r) => setTimeout(r, 500));
    const started = Date.now();
    const status = await fetch(`http://${node.apiAddr}/apis/v2/status/objects/s`);
    const body = await status.text();
    const took = Date.now() - started;
    assert.equal(status.status, 200, body);
    assert.ok(took < 10_000, `the status took ${took} ms`);
    // The other worker's status: the server runs.
    assert.match(body, /state: running/);
    await stalled;
    await eventually("the stall and its end logged", async () => {
      const log = await Deno.readTextFile(`${node.homeDir}/log/stdout.log`);
      return /worker \d did not answer in 5 s/.test(log) && /worker \d answers again/.test(log);
    });
  } finally {
    await node.stop();
  }
});

Deno.test("workers: a stop ends a worker that does not finish in time, as in-flight requests are", async () => {
  const node = await startStallNode(29503);
  const port = 29504;
  try {
    await createPipelineAndServer(
      node,
      "name: p\nkind: Pipeline\nfilters:\n- {name: s, kind: Stall}\n",
      port,
    );
    await eventually(
      "served",
      async () => (await request(`http://127.0.0.1:${port}/`)).body === "stalled",
    );
    // A worker stuck for 90 s: the stop gives in-flight requests 30 s, and then ends it.
    const stalled = request(`http://127.0.0.1:${port}/?ms=90000`).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
    const started = Date.now();
    assert.equal(await node.stop(), 0);
    const took = Date.now() - started;
    assert.ok(took < 45_000, `the stop took ${took} ms`);
    await stalled;
    const log = await Deno.readTextFile(`${node.homeDir}/log/stdout.log`);
    assert.match(log, /worker \d did not stop in 35 s: ended/);
  } finally {
    await node.stop();
  }
});

Deno.test("workers: object changes reach the other workers while one does not answer", async () => {
  const node = await startStallNode(29505);
  const port = 29506;
  try {
    assert.equal((await node.ctl(["object", "create"], stallableServer(port, "one"))).code, 0);
    await bothWorkersServe(node);
    const stalled = request(`http://127.0.0.1:${port}/stall?ms=30000`);
    await new Promise((r) => setTimeout(r, 500));
    // Two changes one after the other: the second waited for the stuck worker to take the first.
    for (const body of ["two", "three"]) {
      assert.equal((await node.ctl(["object", "update"], mockPipeline(body))).code, 0);
    }
    await eventually("the worker that answers serves the last change", async () => {
      const bodies = await Promise.all(
        Array.from(
          { length: 6 },
          () =>
            request(`http://127.0.0.1:${port}/n`, {
              headers: { connection: "close" },
              signal: AbortSignal.timeout(1000),
            }).catch(() => undefined),
        ),
      );
      return bodies.some((r) => r?.body === "three");
    }, 20_000);
    await stalled;
    await eventually("the stuck worker takes the changes in turn once it answers", async () => {
      const bodies = await Promise.all(
        Array.from(
          { length: 10 },
          () => request(`http://127.0.0.1:${port}/n`, { headers: { connection: "close" } }),
        ),
      );
      return bodies.every((r) => r.body === "three");
    });
  } finally {
    await node.stop();
  }
});
