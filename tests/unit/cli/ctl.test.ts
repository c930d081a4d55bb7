import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { runCtl } from "../../../cli/ctl.ts";
import { capture, fakeAdmin, type Route, stdinOf } from "./fake_admin.ts";

/** Runs `ctl` against a fake admin API and returns what happened. */
async function ctl(
  args: string[],
  options: {
    routes?: Record<string, Route>;
    stdin?: string | Uint8Array<ArrayBuffer>;
    editor?: (path: string) => Promise<void>;
  } = {},
) {
  const admin = fakeAdmin(options.routes);
  const io = capture();
  const code = await runCtl(args, {
    egctlConfig: "/nonexistent/.egctlrc",
    editor: options.editor,
    fetch: admin.fetch,
    stdout: io.stdout,
    stderr: io.stderr,
    stdin: stdinOf(options.stdin ?? ""),
  });
  return { code, out: io.out, err: io.err, calls: admin.calls };
}

const SERVER_DEMO = `kind: HTTPServer
name: server-demo
port: 10080
rules: []
`;

// ---- reading ----

Deno.test("ctl object get prints the node's YAML as received", async () => {
  const r = await ctl(["object", "get", "server-demo"], {
    routes: { "GET /objects/server-demo": { status: 200, body: SERVER_DEMO } },
  });
  assert.equal(r.code, 0);
  assert.equal(r.out, SERVER_DEMO);
  assert.equal(r.err, "");
  assert.equal(r.calls.length, 1);
  assert.equal(r.calls[0].url, "http://localhost:2381/apis/v2/objects/server-demo");
  assert.equal(r.calls[0].headers.get("accept"), null); // no JSON asked for
});

Deno.test("ctl get -o yaml and describe quote texts a YAML 1.1 reader would take otherwise", async () => {
  const pipeline = {
    name: "p",
    kind: "Pipeline",
    filters: [{
      name: "a",
      kind: "RequestAdaptor",
      header: { set: { "X-A": "yes", "X-B": "1_000" } },
    }],
  };
  const routes = {
    "GET /object-kinds": { status: 200, body: JSON.stringify(["Pipeline"]) },
    "GET /objects": { status: 200, body: JSON.stringify([pipeline]) },
    "GET /status/objects/p": { status: 404, body: "" },
  };
  for (const args of [["get", "pipeline", "p", "-o", "yaml"], ["get", "all", "-o", "yaml"]]) {
    const r = await ctl(args, { routes });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /X-A: "yes"\n\s+X-B: "1_000"\n/);
  }
  const r = await ctl(["describe", "pipeline", "p"], { routes });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /X-A: "yes"\n/);
});

Deno.test("ctl -o json asks for JSON and pretty-prints it", async () => {
  const r = await ctl(["object", "list", "-o", "json"], {
    routes: { "GET /objects": { status: 200, body: '[{"name":"a","kind":"Pipeline"}]' } },
  });
  assert.equal(r.code, 0);
  assert.equal(r.calls[0].headers.get("accept"), "application/json");
  assert.equal(r.out, '[\n  {\n    "name": "a",\n    "kind": "Pipeline"\n  }\n]\n');
});

Deno.test("ctl -o json prints a filter description as one JSON string", async () => {
  const text = "ResponseAdaptor adapts the response: headers, body, gzip.";
  const r = await ctl(["-o", "json", "filter", "description", "ResponseAdaptor"], {
    routes: {
      "GET /metadata/objects/pipeline/filters/ResponseAdaptor/description": {
        status: 200,
        body: text,
        headers: { "content-type": "text/plain; charset=utf-8" },
      },
    },
  });
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, `${JSON.stringify(text)}\n`);
});

Deno.test("ctl --output=json converts YAML when the node ignores Accept", async () => {
  const r = await ctl(["--output=json", "filter", "list"], {
    routes: {
      "GET /metadata/objects/pipeline/filters": { status: 200, body: "- Proxy\n- Mock\n" },
    },
  });
  assert.equal(r.code, 0);
  assert.equal(r.out, '[\n  "Proxy",\n  "Mock"\n]\n');
});

Deno.test("ctl takes a short flag's value after = as egctl does (-o=json)", async () => {
  const r = await ctl(["-o=json", "filter", "list"], {
    routes: {
      "GET /metadata/objects/pipeline/filters": { status: 200, body: "- Proxy\n" },
    },
  });
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, '[\n  "Proxy"\n]\n');
});

Deno.test("ctl commands call their admin API routes", async () => {
  const cases: [string[], string, string][] = [
    [["api", "list"], "GET", ""],
    [["health"], "GET", "/healthz"],
    [["member", "list"], "GET", "/status/members"],
    [["member", "purge", "eg-2"], "DELETE", "/status/members/eg-2"],
    [["object", "kinds"], "GET", "/object-kinds"],
    [["object", "list"], "GET", "/objects"],
    [["object", "get", "p1"], "GET", "/objects/p1"],
    [["object", "delete", "p1"], "DELETE", "/objects/p1"],
    [["object", "status", "get", "p1"], "GET", "/status/objects/p1"],
    [["object", "status", "list"], "GET", "/status/objects"],
    [["filter", "list"], "GET", "/metadata/objects/pipeline/filters"],
    [["filter", "results", "Proxy"], "GET", "/metadata/objects/pipeline/filters/Proxy/results"],
  ];
  for (const [args, method, path] of cases) {
    const r = await ctl(args, { routes: { [`${method} ${path}`]: { status: 200 } } });
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.err}`);
    assert.deepEqual(r.calls.map((c) => `${c.method} ${c.path}`), [`${method} ${path}`]);
  }
});

Deno.test("ctl prints confirmations for delete, purge and health", async () => {
  const routes: Record<string, Route> = {
    "DELETE /objects/p1": { status: 200 },
    "DELETE /status/members/eg-2": { status: 200 },
    "GET /healthz": { status: 200 },
  };
  assert.equal((await ctl(["object", "delete", "p1"], { routes })).out, "Object p1 deleted\n");
  assert.equal((await ctl(["member", "purge", "eg-2"], { routes })).out, "Member eg-2 purged\n");
  assert.equal((await ctl(["health"], { routes })).out, "OK\n");
});

Deno.test("ctl URL-encodes names in paths", async () => {
  const r = await ctl(["object", "get", "a b/c"]);
  assert.equal(r.calls[0].path, "/objects/a%20b%2Fc");
});

Deno.test("ctl refuses . and .. as names instead of calling another route", async () => {
  // fetch resolves them as dot segments: "object get .." would GET the API list.
  const routes: Record<string, Route> = { "GET ": { status: 200, body: "- group: admin\n" } };
  const cases: [string[], string][] = [
    [["object", "get", ".."], "object get --help"],
    [["object", "delete", "."], "object delete --help"],
    [["custom-data", "get", "k", ".."], "custom-data get --help"],
    [["wasm", "list-data", "..", "f"], "wasm list-data --help"],
  ];
  for (const [args, hint] of cases) {
    const r = await ctl(args, { routes });
    assert.equal(r.code, 1, args.join(" "));
    assert.equal(r.calls.length, 0, args.join(" "));
    assert.match(r.err, /is not a valid name: "\." and "\.\." cannot be sent in a URL path/);
    assert.ok(r.err.includes(hint), r.err);
  }
});

// ---- names, flags, help ----

Deno.test("ctl accepts unique prefixes and the egctl aliases", async () => {
  const routes: Record<string, Route> = {
    "GET /objects/x": { status: 200 },
    "GET /status/objects/x": { status: 200 },
    "GET /status/objects": { status: 200 },
    "GET /object-kinds": { status: 200 },
  };
  for (const args of [["o", "get", "x"], ["obj", "g", "x"], ["ob", "ge", "x"]]) {
    const r = await ctl(args, { routes });
    assert.deepEqual(r.calls.map((c) => c.path), ["/objects/x"], args.join(" "));
  }
  for (const args of [["o", "stat", "get", "x"], ["object", "s", "g", "x"]]) {
    const r = await ctl(args, { routes });
    assert.deepEqual(r.calls.map((c) => c.path), ["/status/objects/x"], args.join(" "));
  }
  assert.deepEqual((await ctl(["o", "st", "l"], { routes })).calls.map((c) => c.path), [
    "/status/objects",
  ]);
  assert.deepEqual((await ctl(["o", "k"], { routes })).calls.map((c) => c.path), ["/object-kinds"]);
});

Deno.test("ctl --server accepts host:port with or without a scheme", async () => {
  const cases: [string, string][] = [
    ["127.0.0.1:9000", "http://127.0.0.1:9000/apis/v2/healthz"],
    ["http://eg.local:2381/", "http://eg.local:2381/apis/v2/healthz"],
    ["https://eg.local:8443", "https://eg.local:8443/apis/v2/healthz"],
    ["[::1]:2381", "http://[::1]:2381/apis/v2/healthz"],
  ];
  for (const [server, url] of cases) {
    const r = await ctl(["--server", server, "health"], {
      routes: { "GET /healthz": { status: 200 } },
    });
    assert.equal(r.code, 0, r.err);
    assert.equal(r.calls[0].url, url);
  }
});

Deno.test("ctl usage errors exit 1 with a --help hint and send nothing", async () => {
  const cases: [string[], string, string][] = [
    [["object"], '"object" needs a command', "easegress ctl object --help"],
    [["objects"], 'unknown command "objects"', "easegress ctl --help"],
    [["object", "fetch"], 'unknown command "fetch" for "object"', "easegress ctl object --help"],
    [["object", "get"], 'missing NAME for "object get"', "easegress ctl object get --help"],
    [["object", "get", ""], "NAME must not be empty", "easegress ctl object get --help"],
    [["object", "list", "x"], 'unexpected argument "x" for "object list"', "object list --help"],
    [["-o", "xml", "object", "list"], 'unknown output format "xml": use yaml or json', "--help"],
    [["object", "list", "--bogus"], "Unknown option '--bogus'", "easegress ctl --help"],
    [["object", "get", "x", "-f", "a.yaml"], '-f/--file is not used by "object get"', "--help"],
    [["--server", "ftp://h:1", "health"], "must use http:// or https://", "health --help"],
    [["--server", "h:1/apis", "health"], "without path", "health --help"],
    [["--server"], "argument missing", "--help"],
    [["object", "create", "-f", ""], "-f/--file must not be empty", "object create --help"],
  ];
  for (const [args, message, hint] of cases) {
    const r = await ctl(args);
    assert.equal(r.code, 1, args.join(" "));
    assert.equal(r.calls.length, 0);
    assert.equal(r.out, "");
    assert.match(r.err, /^Error: /);
    assert.ok(r.err.includes(message), `${args.join(" ")}: ${r.err}`);
    assert.ok(r.err.includes(hint), `${args.join(" ")}: ${r.err}`);
  }
});

Deno.test("ctl without a command prints the help and succeeds, as egctl does", async () => {
  const bare = await ctl([]);
  assert.equal(bare.code, 0);
  assert.equal(bare.err, "");
  assert.equal(bare.out, (await ctl(["--help"])).out);
  assert.match(bare.out, /^Manage a running Easegress node/);
  assert.equal(bare.calls.length, 0);
});

Deno.test("ctl help [command] prints the same help as --help, as egctl's does", async () => {
  for (const words of [[], ["object"], ["o", "create"], ["custom-data", "batch-update"]]) {
    const help = await ctl(["help", ...words]);
    const flag = await ctl([...words, "--help"]);
    assert.equal(help.code, 0, help.err);
    assert.equal(help.out, flag.out, words.join(" "));
    assert.equal(help.calls.length, 0);
  }
  const unknown = await ctl(["help", "objects"]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.err, /unknown command "objects"/);
});

Deno.test("ctl --help works at every level and sends nothing", async () => {
  const root = await ctl(["--help"]);
  assert.equal(root.code, 0);
  assert.equal(root.calls.length, 0);
  for (const line of ["object create [-f FILE]", "object status get NAME", "filter results KIND"]) {
    assert.ok(root.out.includes(line), line);
  }
  assert.ok(root.out.includes("--server HOST:PORT"));

  const group = await ctl(["o", "-h"]);
  assert.equal(group.code, 0);
  assert.match(group.out, /Usage:\n {2}easegress ctl object <command>/);
  assert.match(group.out, /Aliases: object, o, obj/);

  const leaf = await ctl(["object", "get", "--help"]);
  assert.equal(leaf.code, 0);
  assert.match(leaf.out, /easegress ctl object get NAME \[flags\]/);

  const nested = await ctl(["object", "stat", "-h"]);
  assert.match(nested.out, /Aliases: status, stat/);
  assert.match(nested.out, /get NAME/);
});

// ---- sending documents ----

const TWO_OBJECTS = `${SERVER_DEMO}---
name: pipeline-demo
kind: Pipeline
flow: []
`;

Deno.test("ctl object create posts every document from stdin", async () => {
  const r = await ctl(["object", "create"], {
    stdin: TWO_OBJECTS,
    routes: { "POST /objects": { status: 201 } },
  });
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, "Object server-demo created\nObject pipeline-demo created\n");
  assert.deepEqual(r.calls.map((c) => `${c.method} ${c.path}`), [
    "POST /objects",
    "POST /objects",
  ]);
  assert.deepEqual(parseYaml(r.calls[0].body), {
    kind: "HTTPServer",
    name: "server-demo",
    port: 10080,
    rules: [],
  });
  assert.equal(parseYaml(r.calls[1].body).name, "pipeline-demo");
});

Deno.test("ctl object create reads -f FILE, and -f - means stdin", async () => {
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeTextFile(file, SERVER_DEMO);
    const routes: Record<string, Route> = { "POST /objects": { status: 201 } };
    const fromFile = await ctl(["object", "create", "-f", file], { routes, stdin: "junk: [" });
    assert.equal(fromFile.code, 0, fromFile.err);
    assert.equal(parseYaml(fromFile.calls[0].body).name, "server-demo");

    const fromStdin = await ctl(["object", "create", "-f", "-"], { routes, stdin: SERVER_DEMO });
    assert.equal(fromStdin.code, 0, fromStdin.err);
    assert.equal(fromStdin.out, "Object server-demo created\n");
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("ctl takes a flag's value that starts with a dash, as egctl does", async () => {
  const r = await ctl(["object", "create", "-f", "-objects.yaml"]);
  assert.equal(r.code, 1);
  assert.equal(r.err, "Error: cannot read -objects.yaml: no such file\n");
  const routes: Record<string, Route> = { "POST /objects": { status: 201 } };
  const fromStdin = await ctl(["object", "create", "-f", "-"], { routes, stdin: SERVER_DEMO });
  assert.equal(fromStdin.code, 0, fromStdin.err);
});

Deno.test("ctl object create reports an unreadable file", async () => {
  const r = await ctl(["object", "create", "-f", "/nonexistent/objects.yaml"]);
  assert.equal(r.code, 1);
  assert.equal(r.err, "Error: cannot read /nonexistent/objects.yaml: no such file\n");
  assert.equal(r.calls.length, 0);
  // The path once, not again in the runtime's "(os error 21): readfile '...'".
  const dir = await Deno.makeTempDir();
  try {
    const fromDir = await ctl(["object", "create", "-f", dir]);
    assert.equal(fromDir.err, `Error: cannot read ${dir}: Is a directory\n`);
  } finally {
    await Deno.remove(dir);
  }
});

Deno.test("ctl refuses input that is not UTF-8 rather than send it damaged", async () => {
  // "café" in Latin-1: read leniently, the é would become U+FFFD.
  const latin1 = new Uint8Array([...new TextEncoder().encode(`${SERVER_DEMO}x: caf`), 0xe9]);
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeFile(file, latin1);
    const fromFile = await ctl(["object", "create", "-f", file]);
    assert.equal(fromFile.code, 1);
    assert.equal(fromFile.err, `Error: cannot read ${file}: it is not UTF-8 text\n`);
    const fromStdin = await ctl(["object", "create"], { stdin: latin1 });
    assert.equal(fromStdin.err, "Error: cannot read stdin: it is not UTF-8 text\n");
    assert.equal(fromFile.calls.length + fromStdin.calls.length, 0);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("ctl checks every document before sending any", async () => {
  const input = `${SERVER_DEMO}---
name: no-kind
---
- a
- list
---
name: 42
kind: Pipeline
`;
  const r = await ctl(["object", "apply"], { stdin: input });
  assert.equal(r.code, 1);
  assert.equal(r.calls.length, 0);
  assert.equal(
    r.err,
    "Error: stdin has 3 invalid documents; nothing was sent\n" +
      '  document 2 (name "no-kind"): missing kind\n' +
      "  document 3: must be a map with name and kind, got a list\n" +
      "  document 4: name must be a string, got number 42\n",
  );
});

Deno.test("ctl reports YAML syntax errors by document number", async () => {
  const r = await ctl(["object", "create"], { stdin: `${SERVER_DEMO}---\nname: [unclosed\n` });
  assert.equal(r.code, 1);
  assert.equal(r.calls.length, 0);
  assert.match(
    r.err,
    /^Error: stdin has 1 invalid document; nothing was sent\n {2}document 2: invalid YAML: /,
  );
});

Deno.test("ctl rejects input with no objects", async () => {
  const r = await ctl(["object", "create"], { stdin: "# nothing here\n---\n" });
  assert.equal(r.code, 1);
  assert.equal(r.err, "Error: no objects found in stdin\n");
  assert.equal(r.calls.length, 0);
});

Deno.test("ctl object update puts each document at its name", async () => {
  const r = await ctl(["object", "update"], {
    stdin: TWO_OBJECTS,
    routes: {
      "PUT /objects/server-demo": { status: 200 },
      "PUT /objects/pipeline-demo": { status: 200 },
    },
  });
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, "Object server-demo updated\nObject pipeline-demo updated\n");
  assert.deepEqual(r.calls.map((c) => `${c.method} ${c.path}`), [
    "PUT /objects/server-demo",
    "PUT /objects/pipeline-demo",
  ]);
  assert.equal(r.calls[0].headers.get("content-type"), "application/yaml");
});

Deno.test("ctl sends each document's YAML as written, which JSON cannot carry", async () => {
  const mock = `name: m
kind: Pipeline
filters:
  - name: mock
    kind: Mock
    rules: [{ code: 200, headers: { X-Inf: .inf, X-Octal: 0123 } }] # as in the file
`;
  const r = await ctl(["object", "create"], {
    stdin: `${SERVER_DEMO}---\n${mock}`,
    routes: { "POST /objects": { status: 201 } },
  });
  assert.equal(r.code, 0, r.err);
  assert.equal(r.calls[1].body, `---\n${mock}`);
  const data = await ctl(["custom-data", "update", "users"], {
    stdin: "name: a\nlimit: .nan\n",
    routes: { "PUT /customdata/users": { status: 200 } },
  });
  assert.equal(data.code, 0, data.err);
  assert.equal(data.calls[0].body, "name: a\nlimit: .nan\n");
});

Deno.test("ctl object apply updates existing objects and creates missing ones", async () => {
  const r = await ctl(["object", "apply"], {
    stdin: TWO_OBJECTS,
    routes: {
      "PUT /objects/server-demo": { status: 200 },
      // PUT /objects/pipeline-demo is not routed: the fake answers 404 not found.
      "POST /objects": { status: 201 },
    },
  });
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, "Object server-demo updated\nObject pipeline-demo created\n");
  assert.deepEqual(r.calls.map((c) => `${c.method} ${c.path}`), [
    "PUT /objects/server-demo",
    "PUT /objects/pipeline-demo",
    "POST /objects",
  ]);
  assert.equal(parseYaml(r.calls[2].body).name, "pipeline-demo");
});

Deno.test("ctl object apply does not fall back to create on errors other than 404", async () => {
  const r = await ctl(["object", "apply"], {
    stdin: SERVER_DEMO,
    routes: {
      "PUT /objects/server-demo": {
        status: 400,
        body: "code: 400\nmessage: 'different kinds: HTTPServer, Pipeline'\n",
      },
    },
  });
  assert.equal(r.code, 1);
  assert.equal(r.err, "Error: 400: different kinds: HTTPServer, Pipeline\n");
  assert.deepEqual(r.calls.map((c) => c.method), ["PUT"]);
});

Deno.test("ctl stops at the first failing document", async () => {
  const input =
    `name: a\nkind: Pipeline\n---\nname: b\nkind: Pipeline\n---\nname: c\nkind: Pipeline\n`;
  const r = await ctl(["object", "create"], {
    stdin: input,
    routes: {
      "POST /objects": (call) =>
        parseYaml(call.body).name === "b"
          ? new Response("code: 409\nmessage: 'conflict name: b'\n", { status: 409 })
          : new Response(null, { status: 201 }),
    },
  });
  assert.equal(r.code, 1);
  assert.equal(r.out, "Object a created\n");
  assert.equal(
    r.err,
    "Error: 409: conflict name: b\n" +
      '  stopped at document 2 (Pipeline "b") at line 4: 1 sent before it, 1 after it not sent\n',
  );
  assert.equal(r.calls.length, 2);
});

Deno.test("ctl create -f tells where it stopped only when there were several documents", async () => {
  const routes = {
    "POST /objects": (call: { body: string }) =>
      parseYaml(call.body).name === "b"
        ? new Response("code: 409\nmessage: 'conflict name: b'\n", { status: 409 })
        : new Response(null, { status: 201 }),
  };
  const one = await ctl(["create"], { stdin: "name: b\nkind: Pipeline\n", routes });
  assert.equal(one.code, 1);
  assert.equal(one.err, "Error: create Pipeline b failed, 409: conflict name: b\n");

  const three =
    `name: a\nkind: Pipeline\n---\nname: b\nkind: Pipeline\n---\nname: c\nkind: Pipeline\n`;
  const r = await ctl(["create"], { stdin: three, routes });
  assert.equal(r.code, 1);
  assert.equal(r.out, "create Pipeline a successfully\n");
  assert.equal(
    r.err,
    "Error: create Pipeline b failed, 409: conflict name: b\n" +
      "  stopped at document 2 of stdin at line 4: 1 sent before it, 1 after it not sent\n",
  );
});

Deno.test("ctl create -f names the line where the document it stopped at starts", async () => {
  const routes = {
    "POST /objects": (call: { body: string }) =>
      parseYaml(call.body).name === "b"
        ? new Response("code: 400\nmessage: 'bad spec'\n", { status: 400 })
        : new Response(null, { status: 201 }),
  };
  const input = "---\r\nname: a\r\nkind: Pipeline\r\n---\r\n# b:\r\n\r\n" +
    "name: b\r\nkind: Pipeline\r\n---\r\nname: c\r\nkind: Pipeline\r\n";
  const r = await ctl(["create"], { stdin: input, routes });
  assert.equal(r.code, 1);
  assert.equal(
    r.err,
    "Error: create Pipeline b failed, 400: bad spec\n" +
      "  stopped at document 2 of stdin at line 7: 1 sent before it, 1 after it not sent\n",
  );
});

Deno.test("ctl custom-data create sends each document, as egctl does", async () => {
  const r = await ctl(["custom-data", "create", "users"], {
    stdin: "name: a\n---\n# none\n---\nname: b\n---\nname: c\n",
    routes: {
      "POST /customdata/users": (call) =>
        parseYaml(call.body).name === "b"
          ? new Response("code: 409\nmessage: users item b exists\n", { status: 409 })
          : new Response(null, { status: 201 }),
    },
  });
  assert.equal(r.code, 1);
  assert.deepEqual(r.calls.map((c) => parseYaml(c.body)), [{ name: "a" }, { name: "b" }]);
  assert.equal(r.out, "Custom data of users created\n");
  assert.equal(
    r.err,
    "Error: 409: users item b exists\n" +
      "  stopped at document 3 at line 5: 1 sent before it, 1 after it not sent\n",
  );
});

Deno.test("ctl custom-data-kind create checks every document before sending any", async () => {
  const r = await ctl(["custom-data-kind", "create"], {
    stdin: "name: a\n---\n- b\n",
    routes: { "POST /customdatakinds": { status: 201 } },
  });
  assert.equal(r.code, 1);
  assert.equal(r.calls.length, 0);
  assert.equal(
    r.err,
    "Error: stdin has 1 invalid document; nothing was sent\n" +
      "  document 2: must be a map, got a list\n",
  );
});

// ---- errors ----

Deno.test("ctl formats error bodies as Error: code: message", async () => {
  const r = await ctl(["object", "get", "missing"]);
  assert.equal(r.code, 1);
  assert.equal(r.out, "");
  assert.equal(r.err, "Error: 404: not found\n");
});

Deno.test("ctl reads JSON error bodies under -o json", async () => {
  const r = await ctl(["-o", "json", "object", "status", "list"], {
    routes: {
      "GET /status/objects": {
        status: 503,
        body: '{"code":503,"message":"cluster unavailable"}',
        headers: { "content-type": "application/json" },
      },
    },
  });
  assert.equal(r.code, 1);
  assert.equal(r.err, "Error: 503: cluster unavailable\n");
});

Deno.test("ctl falls back to the status text when the error body has no message", async () => {
  const r = await ctl(["object", "list"], {
    routes: {
      "GET /objects": () => new Response("", { status: 405, statusText: "Method Not Allowed" }),
    },
  });
  assert.equal(r.code, 1);
  assert.equal(r.err, "Error: 405: Method Not Allowed\n");
});

Deno.test("ctl says when the admin API cannot be reached", async () => {
  const io = capture();
  const refused = () =>
    Promise.reject(
      new TypeError("fetch failed", {
        cause: new Error(
          "error sending request for url (http://localhost:2381/apis/v2/objects): " +
            "client error (Connect): tcp connect error: Connection refused (os error 111)",
        ),
      }),
    );
  const code = await runCtl(["object", "list"], { fetch: refused, ...io });
  assert.equal(code, 1);
  assert.equal(
    io.err,
    "Error: cannot reach the admin API at http://localhost:2381: " +
      "tcp connect error: Connection refused (os error 111)\n",
  );
});

Deno.test("ctl says plainly when the node drops the connection before answering", async () => {
  const io = capture();
  const dropped = () =>
    Promise.reject(
      new TypeError("fetch failed", {
        cause: new Error(
          "error sending request from 127.0.0.1:33006 for http://localhost:2381/apis/v2/objects " +
            "(127.0.0.1:2381): client error (SendRequest): connection closed before message completed",
        ),
      }),
    );
  assert.equal(await runCtl(["object", "list"], { fetch: dropped, ...io }), 1);
  assert.equal(
    io.err,
    "Error: cannot reach the admin API at http://localhost:2381: " +
      "connection closed before message completed " +
      "(if it is served over HTTPS: --server https://localhost:2381)\n",
  );
});

Deno.test("ctl says a node may serve HTTPS when it answers plain HTTP with a TLS alert", async () => {
  const io = capture();
  // What the runtime makes of the TLS alert a node serving HTTPS sends back.
  const garbled = () =>
    Promise.reject(
      new TypeError("fetch failed", {
        cause: new Error(
          "error sending request from 127.0.0.1:39462 for http://127.0.0.1:2381/apis/v2/healthz " +
            "(127.0.0.1:2381): client error (SendRequest): invalid HTTP version parsed",
        ),
      }),
    );
  const args = ["--server", "127.0.0.1:2381", "health"];
  assert.equal(
    await runCtl(args, { fetch: garbled, egctlConfig: "/nonexistent/.egctlrc", ...io }),
    1,
  );
  assert.equal(
    io.err,
    "Error: cannot reach the admin API at http://127.0.0.1:2381: invalid HTTP version parsed " +
      "(if it is served over HTTPS: --server https://127.0.0.1:2381)\n",
  );
});

Deno.test("ctl says a node serving HTTPS may want a client certificate when it drops the connection", async () => {
  const io = capture();
  const dropped = () =>
    Promise.reject(
      new TypeError("fetch failed", {
        cause: new Error("received fatal alert: CertificateRequired"),
      }),
    );
  const args = ["--server", "https://127.0.0.1:2381", "health"];
  assert.equal(
    await runCtl(args, { fetch: dropped, egctlConfig: "/nonexistent/.egctlrc", ...io }),
    1,
  );
  assert.equal(
    io.err,
    "Error: cannot reach the admin API at https://127.0.0.1:2381: received fatal alert: " +
      "CertificateRequired (if it requires a client certificate: client-certificate and " +
      "client-key in ~/.egctlrc)\n",
  );
});

Deno.test("ctl names ~/.egctlrc when the TLS library refuses its certificates", async () => {
  // PEM blocks of the right form, but nothing the TLS library can use (as an X.509 v1
  // certificate, or a key that is not the certificate's): ctl said "internal error".
  const pem = (label: string, body: string) =>
    btoa(`-----BEGIN ${label}-----\n${btoa(body)}\n-----END ${label}-----\n`);
  const dir = await Deno.makeTempDir();
  const path = `${dir}/.egctlrc`;
  await Deno.writeTextFile(
    path,
    `current-context: c
contexts: [{name: c, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: 127.0.0.1:2381}}]
users:
  - name: u
    user:
      client-certificate-data: ${pem("CERTIFICATE", "cert")}
      client-key-data: ${pem("PRIVATE KEY", "key")}
`,
  );
  try {
    const io = capture();
    const fetched: string[] = [];
    const fetch = (input: RequestInfo | URL) => {
      fetched.push(String(input));
      return Promise.resolve(new Response(null));
    };
    assert.equal(await runCtl(["health"], { fetch, egctlConfig: path, ...io }), 1);
    assert.match(io.err, new RegExp(`^Error: ${path}: its certificates are refused by the TLS `));
    assert.doesNotMatch(io.err, /internal error/);
    assert.deepEqual(fetched, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ctl takes a flag given twice with its last value, as egctl does", async () => {
  const r = await ctl([
    "--server",
    "127.0.0.1:1",
    "--server",
    "127.0.0.1:2",
    "-o",
    "yaml",
    "-o",
    "json",
    "object",
    "list",
  ], {
    routes: { "GET /objects": { status: 200, body: "[]" } },
  });
  assert.equal(r.code, 0, r.err);
  assert.equal(r.calls[0].url, "http://127.0.0.1:2/apis/v2/objects");
  assert.equal(r.calls[0].headers.get("accept"), "application/json");
});

Deno.test("ctl checks optional arguments and --all against the command", async () => {
  let r = await ctl(["get", "pipeline", "a", "b", "c"]);
  assert.equal(r.code, 1);
  assert.match(r.err, /unexpected argument "c" for "get"/);
  r = await ctl(["object", "list", "--all"]);
  assert.equal(r.code, 1);
  assert.match(r.err, /--all is not used by "object list"/);
  r = await ctl(["get", "pipeline", ""]);
  assert.match(r.err, /NAME must not be empty/);
  r = await ctl(["delete", "pipeline", "a", ""]);
  assert.match(r.err, /NAME must not be empty/);
  assert.equal(r.calls.length, 0);
});

Deno.test("ctl delete member --all is refused: members are purged by name", async () => {
  const routes: Record<string, Route> = {
    "GET /object-kinds": { status: 200, body: '["HTTPServer","Pipeline"]' },
    "GET /status/members": { status: 200, body: '[{"name":"eg1"},{"name":"eg2"}]' },
  };
  const r = await ctl(["delete", "member", "--all"], { routes });
  assert.equal(r.code, 1);
  assert.match(r.err, /members are purged by name/);
  assert.equal(r.out, "");
  assert.deepEqual(r.calls.filter((c) => c.method === "DELETE"), []);
});

Deno.test("ctl edit sends nothing when the file is saved unchanged, and removes it", async () => {
  let edited = "";
  const r = await ctl(["edit", "pipeline", "p1"], {
    routes: {
      "GET /object-kinds": { status: 200, body: '["HTTPServer","Pipeline"]' },
      "GET /objects/p1": { status: 200, body: '{"name":"p1","kind":"Pipeline","filters":[]}' },
    },
    editor: (path) => {
      edited = path;
      return Promise.resolve();
    },
  });
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, "edit Pipeline p1: no changes made\n");
  assert.deepEqual(r.calls.map((c) => c.method), ["GET", "GET"]);
  await assert.rejects(Deno.stat(edited), Deno.errors.NotFound);
});

Deno.test("ctl edit refuses a file whose name or kind changed, and keeps it", async () => {
  const r = await ctl(["edit", "pipeline", "p1"], {
    routes: {
      "GET /object-kinds": { status: 200, body: '["Pipeline"]' },
      "GET /objects/p1": { status: 200, body: '{"name":"p1","kind":"Pipeline","filters":[]}' },
    },
    editor: (path) => Deno.writeTextFile(path, "name: p2\nkind: Pipeline\nfilters: []\n"),
  });
  assert.equal(r.code, 1);
  assert.match(r.err, /edit Pipeline p1 failed, the file must hold the one Pipeline named "p1"/);
  const kept = r.err.match(/your changes are kept in (\S+)/)![1];
  assert.match(await Deno.readTextFile(kept), /name: p2/);
  await Deno.remove(kept);
  assert.equal(r.calls.filter((c) => c.method === "PUT").length, 0);
});

Deno.test("ctl create httpproxy names every object it created before the one refused", async () => {
  const r = await ctl(
    [
      "create",
      "httpproxy",
      "demo",
      "--port",
      "10080",
      "--rule",
      "/a=http://h",
      "--rule",
      "/b=http://h",
    ],
    {
      routes: {
        "POST /objects": (call) =>
          parseYaml(call.body).kind === "HTTPServer"
            ? new Response("code: 400\nmessage: port taken\n", { status: 400 })
            : new Response(null, { status: 201 }),
      },
    },
  );
  assert.equal(r.code, 1);
  assert.equal(
    r.err,
    "Error: create HTTPServer demo-server failed, 400: port taken\n" +
      "  created before it: demo-pipeline-0, demo-pipeline-1\n",
  );
});

Deno.test("ctl help lists -f/--file only for commands that read documents (logs -f follows)", async () => {
  const logs = await ctl(["logs", "--help"]);
  assert.equal(logs.code, 0);
  assert.doesNotMatch(logs.out, /--file FILE/);
  assert.match(logs.out, /-f\/--follow/);
  assert.doesNotMatch((await ctl(["health", "--help"])).out, /--file FILE/);
  assert.match((await ctl(["object", "create", "--help"])).out, /-f, --file FILE/);
  assert.match((await ctl(["--help"])).out, /-f, --file FILE/);
});

Deno.test("ctl api-resources gives a kind ending in s no made-up plural", async () => {
  const r = await ctl(["api-resources"], {
    routes: {
      "GET /object-kinds": { status: 200, body: '["EaseMonitorMetrics","MQTTProxy","Pipeline"]' },
    },
  });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /\neasemonitormetrics +emm +EaseMonitorMetrics\n/);
  assert.match(r.out, /\nmqttproxy +mqttproxies +MQTTProxy\n/);
  assert.match(r.out, /\npipeline +pipelines,pl +Pipeline\n/);
});
