import assert from "node:assert/strict";
import { OptionsError, parseServeArgs, workerIsolates } from "../../../server/options.ts";

async function run(args: string[], env: Record<string, string> = {}) {
  const command = await parseServeArgs(args, env);
  assert.equal(command.action, "run");
  return (command as { options: ReturnType<typeof Object> }).options as Record<string, unknown>;
}

Deno.test("serve options default to Easegress's values", async () => {
  const o = await run([]);
  assert.equal(o.name, "eg-default-name");
  assert.equal(o.apiAddr, "localhost:2381");
  assert.equal(o.homeDir, "./");
  assert.equal(o.dataDir, "data");
  assert.equal(o.clusterRole, "primary");
});

Deno.test("flags beat the config file, which beats EG_* variables", async () => {
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(
    file,
    "name: from-file\napi-addr: 127.0.0.1:9000\ncluster:\n  initial-cluster: a=http://x:2380\n",
  );
  const o = await run(["-f", file, "--api-addr", "127.0.0.1:9001"], {
    EG_NAME: "from-env",
    EG_DATA_DIR: "envdata",
  });
  assert.equal(o.name, "from-file");
  assert.equal(o.apiAddr, "127.0.0.1:9001");
  assert.equal(o.dataDir, "envdata");
  assert.deepEqual(o.initialCluster, { a: "http://x:2380" });
  await Deno.remove(file);
});

Deno.test("lists and maps take repeated flags or commas", async () => {
  const o = await run([
    "--plugin",
    "a.ts",
    "--plugin",
    "b.ts,c.ts",
    "--labels",
    "zone=a,tier=edge",
  ]);
  assert.deepEqual(o.plugins, ["a.ts", "b.ts", "c.ts"]);
  assert.deepEqual(o.labels, { zone: "a", tier: "edge" });
});

Deno.test("bad options are refused naming the option", async () => {
  const cases: [string[], RegExp][] = [
    [["--bogus"], /bogus/],
    [["--api-addr", "nowhere"], /--api-addr: "nowhere" must be host:port/],
    [["--name", "bad name"], /--name/],
    [["--cluster-role", "boss"], /--cluster-role: must be primary or secondary/],
    [["--workers=-1"], /--workers: must be a whole number/],
    [["--workers", "two"], /--workers: must be a whole number/],
    [["--http1-server", "nginx"], /--http1-server: must be builtin or deno, got "nginx"/],
    [
      ["--etcd-endpoints", "not a url"],
      /--etcd-endpoints: "not a url" is not host:port or an http/,
    ],
    [["--listen-peer-urls", "10.0.0.1:2380"], /--listen-peer-urls: "10.0.0.1:2380" is not an http/],
  ];
  for (const [args, message] of cases) {
    await assert.rejects(
      () => parseServeArgs(args, {}),
      (e: Error) => e instanceof OptionsError && message.test(e.message),
    );
  }
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(file, "nmae: typo\n");
  await assert.rejects(() => parseServeArgs(["-f", file], {}), /unknown key "nmae"/);
  await Deno.remove(file);
});

Deno.test("plain HTTP/1.1 is served by the builtin server unless deno is asked for", async () => {
  assert.equal((await run([])).http1Server, "builtin");
  assert.equal((await run(["--http1-server", "deno"])).http1Server, "deno");
});

Deno.test("etcd endpoints may leave out the scheme, as etcd's clients allow", async () => {
  const options = await run(["--etcd-endpoints", "10.0.0.1:2379,https://10.0.0.2:2379"]);
  assert.deepEqual(options.etcdEndpoints, ["http://10.0.0.1:2379", "https://10.0.0.2:2379"]);
});

Deno.test("legacy cluster roles are accepted", async () => {
  assert.equal((await run(["--cluster-role", "writer"])).clusterRole, "primary");
  assert.equal((await run(["--cluster-role", "reader"])).clusterRole, "secondary");
});

Deno.test("help and version", async () => {
  assert.deepEqual(await parseServeArgs(["--help"], {}), { action: "help" });
  assert.deepEqual(await parseServeArgs(["-v"], {}), { action: "version" });
});

Deno.test("one data plane runs in the main isolate; more run in worker isolates", () => {
  assert.equal(workerIsolates({ workers: 0 }), 0);
  assert.equal(workerIsolates({ workers: 1 }), 0);
  assert.equal(workerIsolates({ workers: 2 }), 2);
});
