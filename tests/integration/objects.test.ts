/**
 * Object CRUD through ctl and the admin API, persistence across restarts
 * (also after kill -9), bad specs rejected while traffic goes on, plugins.
 */

import assert from "node:assert/strict";
import { eventually, freePort, request, startNodeProcess } from "./helpers.ts";
import { CA_CERT, LEAF_KEY } from "./proxy/tls_fixture.ts";

function mockPipeline(name: string, body: string) {
  return `
name: ${name}
kind: Pipeline
filters:
  - name: mock
    kind: Mock
    rules:
      - code: 200
        body: ${body}`;
}

function server(name: string, port: number, backend: string) {
  return `
kind: HTTPServer
name: ${name}
port: ${port}
rules:
  - paths:
    - pathPrefix: /
      backend: ${backend}`;
}

Deno.test("objects: create, get, list, update, delete with the right statuses", async () => {
  const node = await startNodeProcess();
  const api = `http://${node.apiAddr}/apis/v2`;
  try {
    let r = await node.ctl(["object", "create"], mockPipeline("p1", "one"));
    assert.equal(r.code, 0, r.stderr);
    r = await node.ctl(["object", "create"], mockPipeline("p1", "one"));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Error: 409: .*p1/);

    r = await node.ctl(["object", "get", "p1"]);
    assert.match(r.stdout, /name: p1/);
    r = await node.ctl(["-o", "json", "object", "list"]);
    assert.deepEqual(JSON.parse(r.stdout).map((o: { name: string }) => o.name), ["p1"]);

    r = await node.ctl(["object", "update"], mockPipeline("p1", "two"));
    assert.equal(r.code, 0, r.stderr);
    r = await node.ctl(["object", "get", "p1"]);
    assert.match(r.stdout, /body: two/);

    // A kind change is refused.
    r = await node.ctl(["object", "update"], server("p1", 1, "x"));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Error: 400: different kinds: Pipeline, HTTPServer/);

    r = await node.ctl(["object", "get", "missing"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Error: 404/);

    const kinds = await request(`${api}/object-kinds`, { headers: { accept: "application/json" } });
    assert.deepEqual(JSON.parse(kinds.body), [
      "AutoCertManager",
      "ConsulServiceRegistry",
      "EaseMonitorMetrics",
      "EtcdServiceRegistry",
      "EurekaServiceRegistry",
      "GlobalFilter",
      "HTTPServer",
      "MQTTProxy",
      "NacosServiceRegistry",
      "Pipeline",
      "WebSocketServer",
      "ZookeeperServiceRegistry",
    ]);
    const results = await request(`${api}/metadata/objects/pipeline/filters/Proxy/results`);
    assert.match(results.body, /serverError/);
    const schema = await request(`${api}/metadata/objects/pipeline/filters/Proxy/schema`);
    assert.equal(schema.status, 501);
    assert.match(schema.body, /no JSON schema for Proxy: specs are checked by code/);
    const unknown = await request(`${api}/metadata/objects/pipeline/filters/Nope/schema`);
    assert.equal(unknown.status, 404);
    const v1 = await request(`http://${node.apiAddr}/apis/v1/objects/p1`);
    assert.equal(v1.status, 200);

    r = await node.ctl(["object", "delete", "p1"]);
    assert.equal(r.code, 0, r.stderr);
    r = await node.ctl(["object", "delete", "p1"]);
    assert.match(r.stderr, /Error: 404/);
  } finally {
    await node.stop();
  }
});

Deno.test("objects: bad specs and garbage are refused with the field named, traffic goes on", async () => {
  const node = await startNodeProcess();
  const port = freePort();
  const url = `http://127.0.0.1:${port}/`;
  try {
    assert.equal((await node.ctl(["object", "create"], mockPipeline("p", "fine"))).code, 0);
    assert.equal((await node.ctl(["object", "create"], server("s", port, "p"))).code, 0);
    await eventually("served", async () => (await request(url)).body === "fine");

    const cases: [string, RegExp][] = [
      ["kind: HTTPServer\nname: s\nport: 70000\n", /port: must be at most 65535/],
      [`${server("s", port, "p")}\n      bogus: 1`, /rules\[0\]\.paths\[0\]\.bogus: unknown field/],
      [
        "name: p\nkind: Pipeline\nfilters:\n  - name: x\n    kind: Proxy\n    pools: []\n",
        /filters\[0\]\.pools/,
      ],
      [
        "name: p\nkind: Pipeline\nfilters:\n  - name: m\n    kind: Mock\n    rules: [{code: 200}]\nflow:\n  - filter: m\n    jumpIf: {nope: END}\n",
        /flow\[0\]\.jumpIf\.nope/,
      ],
      ["name: q\nkind: Nope\n", /kind: unknown kind "Nope"/],
      [
        `${server("s", port, "p")}\nhttps: true\ncerts: {a: "not a cert"}\nkeys: {a: "not a key"}`,
        /certs\.a: is neither PEM nor base64-encoded PEM.*keys\.a: is neither/s,
      ],
      [
        `${server("s", port, "p")}\nhttps: true\ncerts: {a: ""}\nkeys: {a: ""}`,
        /certs\.a: is empty.*keys\.a: is empty/s,
      ],
      [
        `${server("s", port, "p")}\nhttps: true\ncertBase64: ${btoa(LEAF_KEY)}\nkeyBase64: ${
          btoa(LEAF_KEY)
        }`,
        /certBase64: has no PEM CERTIFICATE block/,
      ],
      [
        `${server("s", port, "p")}\nhttps: true\ncerts: {a: ${btoa(CA_CERT)}}\nkeys: {a: ${
          btoa(LEAF_KEY)
        }}`,
        /keys\.a: is not the key of the certificate in certs\.a/,
      ],
      [
        `${server("s", port, "p")}\nhttps: true\ncertBase64: ${
          btoa("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
        }\nkeyBase64: ${btoa(LEAF_KEY)}`,
        /certBase64: is refused by the TLS library: .*BadEncoding/,
      ],
    ];
    for (const [yaml, message] of cases) {
      const r = await node.ctl(["object", "update"], yaml);
      assert.equal(r.code, 1, yaml);
      assert.match(r.stderr, message);
    }
    const garbage = await fetch(`http://${node.apiAddr}/apis/v2/objects`, {
      method: "POST",
      body: "{{{: :",
    });
    assert.equal(garbage.status, 400);
    assert.match(await garbage.text(), /code: 400/);
    // Aliases that would expand to millions of nodes.
    let bomb = 'a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]\n';
    for (let i = 1, previous = "a"; i < 12; previous = `l${i}`, i++) {
      bomb += `l${i}: &l${i} [${Array(9).fill(`*${previous}`).join(", ")}]\n`;
    }
    const aliases = await fetch(`http://${node.apiAddr}/apis/v2/objects`, {
      method: "POST",
      body: `${bomb}kind: Pipeline\nname: bomb\nfilters: []\n`,
    });
    assert.equal(aliases.status, 400);
    assert.match(await aliases.text(), /invalid YAML/);
    const huge = await fetch(`http://${node.apiAddr}/apis/v2/objects`, {
      method: "POST",
      body: "#".repeat(9 * 1024 * 1024),
    });
    assert.equal(huge.status, 413);
    assert.match(await huge.text(), /larger than 8388608 bytes/);
    const badEscape = await fetch(`http://${node.apiAddr}/apis/v2/objects/%ZZ`);
    assert.equal(badEscape.status, 400);
    assert.match(await badEscape.text(), /malformed percent-encoding/);
    const notMap = await fetch(`http://${node.apiAddr}/apis/v2/objects`, {
      method: "POST",
      body: "- 1\n- 2",
    });
    assert.equal(notMap.status, 400);
    await notMap.body?.cancel();

    // Nothing stored or running was damaged.
    assert.equal((await request(url)).body, "fine");
    const got = await node.ctl(["object", "get", "s"]);
    assert.match(got.stdout, new RegExp(`port: ${port}`));
  } finally {
    await node.stop();
  }
});

Deno.test("objects: survive a restart and kill -9 on the same data dir", async () => {
  const port = freePort();
  const url = `http://127.0.0.1:${port}/`;
  let node = await startNodeProcess();
  const homeDir = node.homeDir;
  try {
    assert.equal((await node.ctl(["object", "create"], mockPipeline("p", "kept"))).code, 0);
    assert.equal((await node.ctl(["object", "create"], server("s", port, "p"))).code, 0);
    await node.stop("SIGKILL");
    node = await startNodeProcess({ homeDir });
    await eventually("served after kill -9", async () => (await request(url)).body === "kept");
    // SIGUSR2, Easegress's upgrade signal, is refused in the log; the node serves on.
    const pid = Number(await Deno.readTextFile(`${homeDir}/easegress.pid`));
    Deno.kill(pid, "SIGUSR2");
    await eventually(
      "upgrade refused in the log",
      async () =>
        (await Deno.readTextFile(`${homeDir}/log/stdout.log`)).includes("SIGUSR2: handing"),
    );
    assert.equal((await request(url)).body, "kept");
    assert.equal(await node.stop("SIGTERM"), 0);
    // The standard log tells a graceful stop from a crash.
    const log = await Deno.readTextFile(`${homeDir}/log/stdout.log`);
    assert.match(
      log,
      /INFO\tnode\tnode eg-default-name stopping: .*\n.*INFO\tnode\tnode eg-default-name stopped\n$/s,
    );
    node = await startNodeProcess({ homeDir });
    await eventually("served after restart", async () => (await request(url)).body === "kept");
  } finally {
    await node.stop();
  }
});

Deno.test("a stop is not held by an admin API client that stalls mid-body", async () => {
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  const [hostname, port] = node.apiAddr.split(":");
  const client = await Deno.connect({ hostname, port: Number(port) });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await client.write(
      new TextEncoder().encode(
        "POST /apis/v2/objects HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nname: a\n",
      ),
    );
    // The request reaches its handler, which waits for the rest of the body.
    await new Promise((r) => setTimeout(r, 500));
    node.signal("SIGTERM");
    const hung = new Promise<"hung">((r) => timer = setTimeout(() => r("hung"), 40_000));
    assert.equal(await Promise.race([node.exited(), hung]), 0, node.output());
    assert.match(
      await Deno.readTextFile(`${node.homeDir}/log/stdout.log`),
      /admin API requests still unfinished 10 s into the stop are left unanswered/,
    );
  } finally {
    clearTimeout(timer);
    client.close();
    await node.stop("SIGKILL");
  }
});

Deno.test("a node on an IPv6 admin address logs it as [host]:port", async () => {
  const node = await startNodeProcess({ apiHost: "::1", args: ["--workers", "1"] });
  try {
    assert.equal((await node.ctl(["health"])).code, 0);
    const log = await Deno.readTextFile(`${node.homeDir}/log/stdout.log`);
    assert.ok(log.includes(`ready: admin API on ${node.apiAddr}, `), log);
    assert.match(node.apiAddr, /^\[::1\]:\d+$/);
  } finally {
    await node.stop();
  }
});

Deno.test("plugins: a TypeScript filter loaded with --plugin serves by its kind", async () => {
  const plugin = new URL("../fixtures/hello_filter.ts", import.meta.url).pathname;
  const node = await startNodeProcess({ args: ["--plugin", plugin] });
  const port = freePort();
  try {
    const pipeline =
      "name: hp\nkind: Pipeline\nfilters:\n  - name: hi\n    kind: Hello\n    name2: x\n";
    const bad = await node.ctl(["object", "create"], pipeline);
    assert.match(bad.stderr, /filters\[0\]\.name2: unknown field/);
    // The flow names the filter by its own name, whatever fields its kind's spec has.
    const good =
      "name: hp\nkind: Pipeline\nflow: [{filter: hi}]\nfilters:\n  - name: hi\n    kind: Hello\n    who: you\n";
    assert.equal((await node.ctl(["object", "create"], good)).code, 0);
    assert.equal((await node.ctl(["object", "create"], server("s", port, "hp"))).code, 0);
    await eventually("plugin answers", async () => {
      const r = await request(`http://127.0.0.1:${port}/x`);
      return r.body === "hello you" && r.headers.get("x-plugin") === "hello";
    });
  } finally {
    await node.stop();
  }
});

Deno.test("plugins: a status no client could read is answered 500 and logged", async () => {
  const plugin = new URL("../fixtures/hello_filter.ts", import.meta.url).pathname;
  const node = await startNodeProcess({ args: ["--plugin", plugin, "--workers", "1"] });
  const port = freePort();
  const hello = (name: string, status: number) =>
    `name: ${name}\nkind: Pipeline\nfilters:\n  - name: hi\n    kind: Hello\n    status: ${status}\n`;
  try {
    const statuses = [99, 1000, 101, 299];
    for (const status of statuses) {
      assert.equal((await node.ctl(["object", "create"], hello(`p${status}`, status))).code, 0);
    }
    const rules = statuses.map((s) => `  - paths:\n    - path: /p${s}\n      backend: p${s}`);
    const server = `kind: HTTPServer\nname: s\nport: ${port}\nrules:\n${rules.join("\n")}\n`;
    assert.equal((await node.ctl(["object", "create"], server)).code, 0);
    await eventually(
      "server up",
      async () => (await request(`http://127.0.0.1:${port}/p299`)).status === 299,
    );
    for (const path of ["/p99", "/p1000", "/p101"]) {
      const r = await request(`http://127.0.0.1:${port}${path}`);
      assert.equal(r.status, 500, path);
    }
    const log = await Deno.readTextFile(`${node.homeDir}/log/stdout.log`);
    assert.match(log, /GET \/p99: the pipeline answered status 99, not a final HTTP status/);
  } finally {
    await node.stop();
  }
});

Deno.test("initial object files are created at start when absent, and kept when present", async () => {
  const port = freePort();
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(
    file,
    `${mockPipeline("p", "initial")}\n---\n${server("s", port, "p")}\n---\n`,
  );
  // A file that is missing and a document that is no object are logged and skipped.
  const bad = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(bad, "name: nope\nkind: Pipeline\nfilters: [{name: f, kind: Nope}]\n");
  // "café" in Latin-1, which read leniently would be stored as "caf\uFFFD".
  const latin1 = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeFile(
    latin1,
    new Uint8Array([...new TextEncoder().encode(mockPipeline("l", "caf")), 0xe9]),
  );
  const files = [`${bad}.missing`, bad, latin1, file].join(",");
  let node = await startNodeProcess({ args: ["--initial-object-config-files", files] });
  const homeDir = node.homeDir;
  try {
    await eventually(
      "initial objects serve",
      async () => (await request(`http://127.0.0.1:${port}/`)).body === "initial",
    );
    const log = await Deno.readTextFile(`${homeDir}/log/stdout.log`);
    assert.match(log, /initial object file \S+\.missing skipped: cannot read it/);
    assert.match(log, /document 1 skipped: .*unknown filter kind "Nope"/);
    assert.match(log, /initial object file \S+ skipped: cannot read it: it is not UTF-8 text/);
    assert.equal((await node.ctl(["object", "get", "l"])).code, 1);
    // The empty document after the last "---" is nothing to create, not a bad one.
    assert.doesNotMatch(log, /document 3 skipped/);
    assert.equal((await node.ctl(["object", "update"], mockPipeline("p", "changed"))).code, 0);
    await node.stop();
    node = await startNodeProcess({ homeDir, args: ["--initial-object-config-files", file] });
    await eventually(
      "stored object wins",
      async () => (await request(`http://127.0.0.1:${port}/`)).body === "changed",
    );
  } finally {
    await node.stop();
    await Deno.remove(file);
    await Deno.remove(bad);
    await Deno.remove(latin1);
  }
});

Deno.test("the executable answers --help and --version, and names bad flags", async () => {
  const main = new URL("../../main.ts", import.meta.url).pathname;
  const runWith = async (flags: string[], ...args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", ...flags, main, ...args],
    }).output();
    return {
      code: out.code,
      text: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr),
    };
  };
  const run = (...args: string[]) =>
    runWith(["--unstable-net", "--unstable-no-legacy-abort"], ...args);
  // Without --unstable-net a node would die at its first shared listener: it says so at once.
  const unstable = await runWith([], "serve", "--api-addr", `127.0.0.1:${freePort()}`);
  assert.equal(unstable.code, 2);
  assert.match(unstable.text, /serve needs Deno's --unstable-net/);
  assert.match((await run("--version")).text, /easegress \d+\.\d+\.\d+/);
  const help = await run("serve", "--help");
  assert.equal(help.code, 0);
  assert.match(help.text, /--api-addr/);
  const bad = await run("serve", "--api-addr", "nowhere");
  assert.equal(bad.code, 2);
  assert.match(bad.text, /--api-addr: "nowhere" must be host:port/);
  assert.match((await run("ctl", "--help")).text, /object/);
  // A second node on a taken admin address says which address.
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const home = await Deno.makeTempDir({ prefix: "eg-test-" });
  try {
    const addr = `127.0.0.1:${taken.addr.port}`;
    // The home dir's files stay those of the node already running there.
    await Deno.writeTextFile(`${home}/easegress.pid`, "12345\n");
    await Deno.writeTextFile(`${home}/running_objects.yaml`, "- name: kept\n");
    const refused = await run(
      "serve",
      "--api-addr",
      addr,
      "--home-dir",
      home,
      "--data-dir",
      "other",
      "--workers",
      "1",
    );
    assert.equal(refused.code, 1);
    assert.match(refused.text, new RegExp(`cannot serve the admin API on --api-addr ${addr}`));
    assert.equal(await Deno.readTextFile(`${home}/easegress.pid`), "12345\n");
    assert.equal(await Deno.readTextFile(`${home}/running_objects.yaml`), "- name: kept\n");
    // A dir that cannot be made is named with the option that chose it.
    await Deno.writeTextFile(`${home}/file`, "");
    const noHome = await run("serve", "--api-addr", addr, "--home-dir", `${home}/file/sub`);
    assert.equal(noHome.code, 1);
    assert.match(noHome.text, new RegExp(`--home-dir: cannot create ${home}/file/sub: `));
    for (const flag of ["--data-dir", "--log-dir"]) {
      const noDir = await run("serve", "--api-addr", addr, "--home-dir", home, flag, "file/sub");
      assert.equal(noDir.code, 1);
      assert.match(noDir.text, new RegExp(`${flag}: cannot create ${home}/file/sub: `));
    }
  } finally {
    taken.close();
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("run without Deno's permissions, serve and ctl name the flags to add", async () => {
  const main = new URL("../../main.ts", import.meta.url).pathname;
  const run = async (permissions: string[], ...args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--unstable-net", "--unstable-no-legacy-abort", ...permissions, main, ...args],
      env: { NO_COLOR: "1" },
    }).output();
    return {
      code: out.code,
      text: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr),
    };
  };
  // None at all: the node stopped at its first read of the environment, uncaught.
  const none = await run([], "serve", "--api-addr", "127.0.0.1:30395");
  assert.equal(none.code, 2);
  assert.match(none.text, /serve needs Deno's --allow-all \(--allow-env, --allow-read, /);
  assert.doesNotMatch(none.text, /Uncaught|EASEGRESS_TASK_CWD/);
  const some = await run(["--allow-env", "--allow-net"], "serve", "--api-addr", "127.0.0.1:30395");
  assert.equal(some.code, 2);
  assert.match(some.text, /\(--allow-read, --allow-write, --allow-run, --allow-sys not given\)/);
  // ctl says what Deno says, without a stack trace.
  const ctl = await run(["--allow-net"], "ctl", "--server", "127.0.0.1:30395", "health");
  assert.equal(ctl.code, 1);
  assert.match(ctl.text, /^Error: Requires env access to "HOME", run again with the --allow-env/m);
  assert.doesNotMatch(ctl.text, /internal error|\n\s+at /);
});

Deno.test("a home dir that does not exist is made, with the data and log dirs elsewhere", async () => {
  const base = await Deno.makeTempDir({ prefix: "eg-test-" });
  const homeDir = `${base}/home`;
  const node = await startNodeProcess({
    homeDir,
    args: ["--data-dir", `${base}/data`, "--log-dir", `${base}/log`],
  });
  try {
    const pid = Number(await Deno.readTextFile(`${homeDir}/easegress.pid`));
    assert.ok(pid > 0);
  } finally {
    await node.stop();
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("admin API: X-Config-Version rises with each object change and survives a restart; /about", async () => {
  const node = await startNodeProcess();
  const api = () => `http://${node.apiAddr}/apis/v1`;
  const version = async (path = "/objects", init?: RequestInit) => {
    const r = await fetch(api() + path, init);
    await r.body?.cancel();
    return Number(r.headers.get("x-config-version"));
  };
  let restarted: Awaited<ReturnType<typeof startNodeProcess>> | undefined;
  try {
    assert.equal(await version(), 0);
    assert.equal((await node.ctl(["object", "create"], mockPipeline("v", "one"))).code, 0);
    assert.equal(await version("/healthz"), 1);
    assert.equal((await node.ctl(["object", "update"], mockPipeline("v", "two"))).code, 0);
    // A refused change changes nothing.
    assert.equal((await node.ctl(["object", "create"], mockPipeline("v", "three"))).code, 1);
    assert.equal(await version("/no-such-route"), 2);
    assert.equal((await node.ctl(["object", "delete", "v"])).code, 0);
    assert.equal(await version(), 3);

    const about = await fetch(`${api()}/about`);
    assert.equal(about.headers.get("content-type"), "text/plain; charset=utf-8");
    assert.match(await about.text(), /Easegress on Deno .*\nRuntime: Deno \d/);

    // admin_api.log: a line per request, as Easegress writes it.
    const aboutText = await (await fetch(`${api()}/about`)).text();
    await eventually("admin_api.log written", async () => {
      const log = await Deno.readTextFile(`${node.homeDir}/log/admin_api.log`);
      const line = new RegExp(
        String.raw`^GET 127\.0\.0\.1:\d+ /apis/v1/about 200 rx:0B ` +
          String.raw`tx:${new TextEncoder().encode(aboutText).length}B ` +
          String.raw`start:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ process:[\d.]+(µs|ms|s)$`,
        "m",
      );
      return line.test(log) && / \/apis\/v1\/no-such-route 404 rx:0B tx:\d+B /.test(log);
    });

    await node.stop();
    restarted = await startNodeProcess({ homeDir: node.homeDir });
    const r = await fetch(`http://${restarted.apiAddr}/apis/v2/objects`);
    await r.body?.cancel();
    assert.equal(r.headers.get("x-config-version"), "3");
  } finally {
    await node.stop();
    await restarted?.stop();
  }
});

Deno.test("deno task ctl reads -f FILE from the directory it was run in", async () => {
  const node = await startNodeProcess();
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/relative.yaml`, mockPipeline("from-task-dir", "ok"));
    const config = new URL("../../deno.json", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "task",
        "-q",
        "--config",
        config,
        "ctl",
        "--server",
        node.apiAddr,
        "object",
        "create",
        "-f",
        "relative.yaml",
      ],
      cwd: dir,
      env: { INIT_CWD: dir },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.equal((await node.ctl(["object", "get", "from-task-dir"])).code, 0);
  } finally {
    await node.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
