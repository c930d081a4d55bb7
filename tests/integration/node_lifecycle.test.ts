/**
 * A node's life through the executable: what it says when its dirs cannot
 * be used, and how it stops.
 *
 * @module
 */

import * as assert from "node:assert/strict";
import { eventually, request, startNodeProcess } from "./helpers.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** Runs `easegress serve ...args` to its end; returns its exit code and output. */
async function serve(...args: string[]): Promise<{ code: number; text: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--unstable-net", "--unstable-no-legacy-abort", "-A", MAIN, "serve", ...args],
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, text: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

Deno.test("a log file the node cannot open is named with --log-dir", async () => {
  const home = await Deno.makeTempDir({ prefix: "eg-test-" });
  try {
    // A dir in the log file's place: refused whoever runs the node, root included.
    const cases = [
      ["stdout.log", "1"],
      ["admin_api.log", "1"],
      ["filter_http_access.log", "1"],
      // Opened by each worker isolate.
      ["filter_http_access.log", "2"],
    ];
    for (const [name, workers] of cases) {
      await Deno.remove(`${home}/log`, { recursive: true }).catch(() => {});
      await Deno.mkdir(`${home}/log/${name}`, { recursive: true });
      const run = await serve(
        "--api-addr",
        "127.0.0.1:27501",
        "--home-dir",
        home,
        "--workers",
        workers,
      );
      assert.equal(run.code, 1, run.text);
      assert.match(
        run.text,
        new RegExp(`--log-dir: cannot open the log file ${home}/log/${name}: `),
        `${name}, ${workers} workers`,
      );
    }
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

/** An HTTPServer on `port` whose every request waits for `backendPort`'s answer. */
function proxyObjects(port: number, backendPort: number): string {
  return `kind: HTTPServer
name: front
port: ${port}
rules: [{paths: [{pathPrefix: /, backend: slow}]}]
---
kind: Pipeline
name: slow
flow: [{filter: proxy}]
filters: [{kind: Proxy, name: proxy, pools: [{servers: [{url: "http://127.0.0.1:${backendPort}"}]}]}]
`;
}

Deno.test("SIGHUP stops the node gracefully: an in-flight request finishes", async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => release = r);
  const backend = Deno.serve({ hostname: "127.0.0.1", port: 27511, onListen() {} }, async () => {
    await released;
    return new Response("finished");
  });
  const node = await startNodeProcess({ apiPort: 27510, args: ["--workers", "1"] });
  try {
    assert.equal((await node.ctl(["apply"], proxyObjects(27512, 27511))).code, 0);
    await eventually("listening", async () => {
      const status = await node.ctl(["-o", "json", "object", "status", "get", "front"]);
      return JSON.parse(status.stdout)["eg-default-name"]?.state === "running";
    });
    const inFlight = request("http://127.0.0.1:27512/slow");
    await new Promise((r) => setTimeout(r, 300));
    // Its default action ended the process at once, the request with it.
    node.signal("SIGHUP");
    await new Promise((r) => setTimeout(r, 300));
    release();
    const answer = await inFlight;
    assert.equal(answer.status, 200);
    assert.equal(answer.body, "finished");
    assert.equal(await node.exited(), 0);
    assert.match(node.output(), /node eg-default-name stopped/);
    await assert.rejects(Deno.stat(`${node.homeDir}/easegress.pid`), Deno.errors.NotFound);
  } finally {
    release();
    await node.stop("SIGKILL");
    await backend.shutdown();
    await Deno.remove(node.homeDir, { recursive: true });
  }
});

Deno.test("a node started with SIGHUP ignored (nohup) serves on after a SIGHUP", async () => {
  const home = await Deno.makeTempDir({ prefix: "eg-test-" });
  const apiAddr = "127.0.0.1:27520";
  // As nohup starts it: SIGHUP ignored from the start, across exec.
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      'trap "" HUP; exec "$@"',
      "sh",
      Deno.execPath(),
      "run",
      "--unstable-net",
      "--unstable-no-legacy-abort",
      "-A",
      MAIN,
      "serve",
      "--api-addr",
      apiAddr,
      "--home-dir",
      home,
      "--workers",
      "1",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const healthy = async () => {
    const r = await fetch(`http://${apiAddr}/apis/v2/healthz`);
    await r.body?.cancel();
    return r.ok;
  };
  try {
    await eventually("the node answering", healthy, 20_000);
    // The node's own pid (sh exec'd Deno): the signal goes to it alone.
    child.kill("SIGHUP");
    await new Promise((r) => setTimeout(r, 1_000));
    assert.ok(await healthy(), "the node is gone after a SIGHUP it was told to ignore");
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 0);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("an HTTPServer stored with the admin API's port fails, and the node starts", async () => {
  const home = await Deno.makeTempDir({ prefix: "eg-test-" });
  try {
    for (const [workers, apiPort] of [["1", 27530], ["2", 27531]] as const) {
      const file = `${home}/on-admin-port.yaml`;
      await Deno.writeTextFile(
        file,
        `kind: HTTPServer\nname: taker\nport: ${apiPort}\nrules: []\n`,
      );
      // As after a restart: the object runs before the admin API listens. It took the port
      // first, and the node stopped, unable to serve its admin API, at every start.
      const node = await startNodeProcess({
        homeDir: `${home}/${workers}`,
        apiPort,
        args: ["--workers", workers, "--initial-object-config-files", file],
      });
      try {
        await eventually("the server failed", async () => {
          const status = await node.ctl(["-o", "json", "object", "status", "get", "taker"]);
          const server = JSON.parse(status.stdout)["eg-default-name"];
          return server?.state === "failed" &&
            server.error.startsWith(`cannot listen on port ${apiPort}: `);
        });
        assert.equal((await node.ctl(["object", "delete", "taker"])).code, 0);
      } finally {
        assert.equal(await node.stop(), 0);
      }
    }
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
