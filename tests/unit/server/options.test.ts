import assert from "node:assert/strict";
import { loadYaml } from "../../../filters/yaml_module.ts";
import {
  generatedMemberName,
  heapTrimAfterMs,
  optionsDocument,
  OptionsError,
  parseServeArgs,
  serveHelp,
  workerIsolates,
} from "../../../server/options.ts";

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

Deno.test("a node given no name is named after its host and admin address, as in Easegress", async () => {
  assert.equal(generatedMemberName("[::1]:2381", "box"), "box---1-2381");
  assert.equal(generatedMemberName("localhost:2381", "box"), "box-localhost-2381");
  const o = await run(["--name", "", "--api-addr", "127.0.0.1:9002"]);
  assert.equal(o.name, generatedMemberName("127.0.0.1:9002"));
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(file, 'name: ""\n');
  assert.equal((await run(["-f", file])).name, generatedMemberName("localhost:2381"));
  await Deno.remove(file);
  // An empty EG_* variable counts as unset, as in Easegress.
  assert.equal((await run([], { EG_NAME: "", EG_DEBUG: "" })).name, "eg-default-name");
});

Deno.test("a config file's unquoted numbers and booleans are read as written into text options", async () => {
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeTextFile(
      file,
      "name: 0123\nbasic-auth: { admin: 0123, ops: 1.10, dev: True }\nlabels: { v: 2.0 }\n" +
        "debug: True\ncluster:\n  max-call-send-msg-size: 2e6\n",
    );
    const o = await run(["-f", file]);
    assert.equal(o.name, "0123");
    // Otherwise "123": the password written in the file would be refused.
    assert.deepEqual(o.basicAuth, { admin: "0123", ops: "1.10", dev: "True" });
    assert.deepEqual(o.labels, { v: "2.0" });
    assert.equal(o.debug, true);
    assert.equal(o.maxCallSendMsgSize, 2_000_000);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("a config file's switches take YAML 1.1's yes, no, on and off, as Go's YAML reads them", async () => {
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeTextFile(file, "debug: yes\ndisable-access-log: On\n");
    let o = await run(["-f", file]);
    assert.equal(o.debug, true);
    assert.equal(o.disableAccessLog, true);
    await Deno.writeTextFile(file, "debug: no\ndisable-access-log: off\n");
    o = await run(["-f", file], { EG_DEBUG: "true" });
    assert.equal(o.debug, false);
    assert.equal(o.disableAccessLog, false);
    await Deno.writeTextFile(file, "debug: maybe\n");
    await assert.rejects(() => parseServeArgs(["-f", file], {}), /debug: must be true or false/);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("a config file's map value left empty is empty text, and a list or map is refused", async () => {
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  const given = async (text: string) => {
    await Deno.writeTextFile(file, text);
    return await run(["-f", file]);
  };
  try {
    // As Go's YAML decodes it: "", where String(null) gave the password "null".
    assert.deepEqual((await given("labels: { a: , b: ~ }\n")).labels, { a: "", b: "" });
    for (const empty of ["basic-auth:\n  admin:\n", "basic-auth: { admin: ~ }\n"]) {
      await assert.rejects(given(empty), /: basic-auth: "admin" needs a password/);
    }
    await assert.rejects(given("labels: { a: [1, 2] }\n"), /labels: a: must be text/);
    await assert.rejects(
      given("initial-cluster:\n  - m1: { url: x }\n"),
      /initial-cluster: m1: must be text/,
    );
    // Number([4]) is 4.
    await assert.rejects(given("workers: [4]\n"), /workers: must be a whole number, got \[4\]/);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("an option refused is named where its value came from: flag, EG_* or config file", async () => {
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeTextFile(file, "workers: 300\n");
    const refused = async (args: string[], env: Record<string, string>, message: string) =>
      await assert.rejects(
        parseServeArgs(args, env),
        (e: Error) => e instanceof OptionsError && e.message === message,
      );
    // "--api-addr: ..." sent the user looking for a flag never given.
    await refused(
      [],
      { EG_API_ADDR: "nowhere" },
      'environment EG_API_ADDR: "nowhere" must be host:port',
    );
    await refused(
      ["-f", file],
      {},
      `config file ${file}: workers: at most 256 data-plane isolates, got 300`,
    );
    await Deno.writeTextFile(file, "workers: 300\ncluster-role: leader\n");
    await refused(
      ["-f", file, "--workers", "2"],
      {},
      `config file ${file}: cluster-role: must be primary or secondary, got "leader"`,
    );
    // A flag given beats the file and the environment, and is named as a flag.
    await Deno.writeTextFile(file, "workers: 300\n");
    await refused(
      ["-f", file, "--workers", "400"],
      { EG_WORKERS: "500" },
      "--workers: at most 256 data-plane isolates, got 400",
    );
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("short flags take their value after = as Go's flags do (-f=FILE, -c=false)", async () => {
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(file, "name: from-file\n");
  assert.equal((await run([`-f=${file}`])).name, "from-file");
  const command = await parseServeArgs([`-f=${file}`, "-c=false"], {});
  assert.equal(command.action === "run" && command.printConfig, false);
  await Deno.remove(file);
});

Deno.test("a flag's value may start with a dash, as Go's flags take the next argument", async () => {
  assert.equal((await run(["--name", "-edge"])).name, "-edge");
  assert.deepEqual((await run(["--labels", "-a=1"])).labels, { "-a": "1" });
  await assert.rejects(
    () => parseServeArgs(["--workers", "-1"], {}),
    (e: Error) =>
      e instanceof OptionsError && e.message === '--workers: must be a whole number, got "-1"',
  );
  // A switch does not take the next argument.
  assert.equal((await run(["--debug", "--name", "n"])).debug, true);
});

Deno.test("a number option given empty is refused, not taken as 0", async () => {
  for (const args of [["--workers="], ["--status-update-max-batch-size", " "]]) {
    await assert.rejects(
      () => parseServeArgs(args, {}),
      (e: Error) =>
        e instanceof OptionsError && /must be a whole number, got "\s*"/.test(e.message),
    );
  }
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(file, 'workers: ""\n');
  await assert.rejects(() => parseServeArgs(["-f", file], {}), /workers: must be a whole number/);
  await Deno.remove(file);
});

Deno.test("switches take Go's boolean spellings, from flags as --debug=false and from EG_*", async () => {
  assert.equal((await run([], { EG_DEBUG: "1" })).debug, true);
  assert.equal((await run([], { EG_DISABLE_ACCESS_LOG: "True" })).disableAccessLog, true);
  assert.equal((await run(["--debug=true"])).debug, true);
  assert.equal((await run(["--debug=false"], { EG_DEBUG: "true" })).debug, false);
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(file, "debug: true\n");
  assert.equal((await run(["-f", file, "--debug=0"])).debug, false);
  await Deno.remove(file);
  await assert.rejects(
    () => parseServeArgs(["--debug", "false"], {}),
    /--debug takes its value after "=": write --debug=false/,
  );
  await assert.rejects(
    () => parseServeArgs(["--debug=maybe"], {}),
    /--debug: must be true or false, got "maybe"/,
  );
  await assert.rejects(
    () => parseServeArgs([], { EG_DEBUG: "yes" }),
    /environment EG_DEBUG: must be true or false/,
  );
});

Deno.test("the options document -c prints is a config file that gives the same options", async () => {
  const first = await run(["--name", "n9", "--plugin", "a.ts", "--labels", "zone=a"]);
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(file, (await loadYaml()).stringify(optionsDocument(first as never)));
  assert.deepEqual(await run(["-f", file]), first);
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
    [["--home-dir", ""], /--home-dir: must not be empty/],
    [["--data-dir="], /--data-dir: must not be empty/],
    [["--cluster-request-timeout", "soon"], /--cluster-request-timeout: "soon" is not a positive/],
    [["--cluster-request-timeout", "0s"], /--cluster-request-timeout: "0s" is not a positive/],
    [["--workers", "two"], /--workers: must be a whole number/],
    [["--workers", "257"], /--workers: at most 256 data-plane isolates, got 257/],
    [["--http1-server", "nginx"], /--http1-server: must be builtin or deno, got "nginx"/],
    [["--heap-trim-after", "soon"], /--heap-trim-after: "soon" is not a duration/],
    [["--heap-trim-after=-5s"], /--heap-trim-after: "-5s" is not a duration/],
    [
      ["--etcd-endpoints", "not a url"],
      /--etcd-endpoints: "not a url" is not host:port or an http/,
    ],
    [["--listen-peer-urls", "10.0.0.1:2380"], /--listen-peer-urls: "10.0.0.1:2380" is not an http/],
    // etcd's gRPC clients would go to port 443, whatever the scheme.
    [
      ["--etcd-endpoints", "10.0.0.1"],
      /--etcd-endpoints: "10.0.0.1" has no port, such as 10.0.0.1:2379/,
    ],
    [
      ["--etcd-endpoints", "http://[::1]/"],
      /--etcd-endpoints: "http:\/\/\[::1\]\/" has no port/,
    ],
    [
      ["--cluster-role", "secondary", "--primary-listen-peer-urls", "http://10.0.0.1"],
      /--primary-listen-peer-urls: "http:\/\/10.0.0.1" is not an http\(s\) URL with a port/,
    ],
    [
      ["--name", "m1", "--initial-cluster", "m1=http://10.0.0.1"],
      /--initial-cluster: "m1=http:\/\/10.0.0.1" is not name=URL/,
    ],
    [
      ["--name", "m1", "--initial-cluster", "m1=10.0.0.1:2380"],
      /--initial-cluster: "m1=10.0.0.1:2380" is not name=URL/,
    ],
  ];
  for (const [args, message] of cases) {
    await assert.rejects(
      () => parseServeArgs(args, {}),
      (e: Error) => e instanceof OptionsError && message.test(e.message),
    );
  }
});

Deno.test("a config file's unknown keys are ignored with a warning, as Easegress ignores them", async () => {
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  // A typo, and keys of later Easegress releases.
  await Deno.writeTextFile(file, "nmae: typo\nobjects-dump-interval: 10m\nname: n1\n");
  const command = await parseServeArgs(["-f", file], {});
  assert.equal(command.action, "run");
  if (command.action !== "run") return;
  assert.equal(command.options.name, "n1");
  assert.deepEqual(command.warnings, [
    `config file ${file}: unknown key "nmae" ignored`,
    `config file ${file}: unknown key "objects-dump-interval" ignored`,
  ]);
  await Deno.remove(file);
});

Deno.test("a config file's cluster block may be empty, but not other than a map", async () => {
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  // Every cluster key commented out, as when a primary's file is turned into a standalone one.
  await Deno.writeTextFile(file, "name: n1\ncluster:\n  # initial-cluster: n1=http://h1:2380\n");
  const command = await parseServeArgs(["-f", file], {});
  assert.equal(command.action, "run");
  if (command.action !== "run") return;
  assert.deepEqual(command.options.initialCluster, {});
  assert.deepEqual(command.warnings, []);
  await Deno.writeTextFile(file, "name: n1\ncluster:\n  - initial-cluster: n1=http://h1:2380\n");
  await assert.rejects(
    () => parseServeArgs(["-f", file], {}),
    (e: Error) => e instanceof OptionsError && /cluster: must be a map/.test(e.message),
  );
  await Deno.remove(file);
});

Deno.test("a config file may end with ---, but two documents of options are refused", async () => {
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  // As generated YAML often ends, and Go's YAML reader takes.
  await Deno.writeTextFile(file, "name: n1\n---\n");
  assert.equal((await run(["-f", file])).name, "n1");
  await Deno.writeTextFile(file, "name: n1\n---\n# nothing more\n");
  assert.equal((await run(["-f", file])).name, "n1");
  await Deno.writeTextFile(file, "name: n1\n---\nname: n2\n");
  await assert.rejects(
    () => parseServeArgs(["-f", file], {}),
    (e: Error) =>
      e instanceof OptionsError &&
      e.message === `Config file ${file} must hold one document, found 2`,
  );
  await Deno.remove(file);
});

Deno.test("an isolate trims its heap after 30 s of quiet unless told otherwise", async () => {
  assert.equal((await run([])).heapTrimAfter, "30s");
  assert.equal((await run(["--heap-trim-after", "0s"])).heapTrimAfter, "0s");
  const options = await run(["--heap-trim-after", "2m"]);
  assert.equal(heapTrimAfterMs({ heapTrimAfter: String(options.heapTrimAfter) }), 120_000);
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
  // Every option is listed, its help apart from it and starting in one column.
  const options = serveHelp().split("\n").filter((l) => l.startsWith("  -"));
  const column = /^ {2}\S.*?\s{2,}(?=\S)/.exec(options[0])![0].length;
  for (const line of options) {
    assert.match(line.slice(0, column), /\s{2}$/, line);
    assert.notEqual(line[column], " ", line);
  }
  for (const flag of ["--initial-object-config-files VALUE", "--signal-upgrade", "--version"]) {
    assert.ok(options.some((l) => l.includes(flag + " ")), flag);
  }
});

Deno.test("one data plane runs in the main isolate; more run in worker isolates", () => {
  assert.equal(workerIsolates({ workers: 0 }), 0);
  assert.equal(workerIsolates({ workers: 1 }), 0);
  assert.equal(workerIsolates({ workers: 2 }), 2);
});

Deno.test("Easegress's config files are taken as they are written", async () => {
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(
    file,
    `name: machine-1
wal-dir: ""
cpu-profile-file:
memory-profile-file:
member-dir: ./member
status-update-max-batch-size: 5
use-standalone-etcd: false
cluster:
  initial-cluster:
   - machine-1: http://h1:2380
   - machine-2: http://h2:2380
  primary-listen-peer-urls: http://h1:2380
  max-call-send-msg-size: 2097152
`,
  );
  const o = await run(["-f", file]);
  assert.deepEqual(o.initialCluster, {
    "machine-1": "http://h1:2380",
    "machine-2": "http://h2:2380",
  });
  assert.equal(o.cpuProfileFile, "");
  assert.equal(o.walDir, "");
  assert.equal(o.statusUpdateMaxBatchSize, 5);
  assert.deepEqual(o.primaryListenPeerUrls, ["http://h1:2380"]);
  assert.equal(o.maxCallSendMsgSize, 2097152);
  await Deno.remove(file);
});

Deno.test("a node on a standalone etcd is a secondary; a secondary cannot force a new cluster", async () => {
  const o = await run(["--use-standalone-etcd", "--primary-listen-peer-urls", "http://e:2379"]);
  assert.equal(o.clusterRole, "secondary");
  await assert.rejects(
    parseServeArgs(["--cluster-role", "secondary", "--force-new-cluster"], {}),
    (e: Error) => e instanceof OptionsError && /--force-new-cluster: a secondary/.test(e.message),
  );
  for (const flag of ["--signal-upgrade", "-s"]) {
    await assert.rejects(
      parseServeArgs([flag], {}),
      (e: Error) =>
        e instanceof OptionsError && /--signal-upgrade: .* not supported/.test(e.message),
    );
  }
  const command = await parseServeArgs(["-c"], {});
  assert.equal(command.action === "run" && command.printConfig, true);
});

Deno.test("a node without an etcd member of its own finds the cluster as Easegress's secondaries do", async () => {
  const { clusterModeOf, secondaryEndpoints } = await import("../../../server/cluster_setup.ts");
  const secondary = await parseServeArgs(["--cluster-role", "secondary"], {});
  assert.equal(secondary.action, "run");
  if (secondary.action !== "run") return;
  assert.equal(clusterModeOf(secondary.options), "external-etcd");
  assert.deepEqual(secondaryEndpoints(secondary.options), ["http://localhost:2380"]);
  const joining = await parseServeArgs([
    "--cluster-role",
    "secondary",
    "--initial-cluster",
    "a=http://a:2380,b=http://b:2380",
  ], {});
  if (joining.action !== "run") throw new Error("not run");
  assert.equal(clusterModeOf(joining.options), "built-in-etcd");
  assert.deepEqual(secondaryEndpoints(joining.options), ["http://a:2380", "http://b:2380"]);
  const given = await parseServeArgs(["--etcd-endpoints", "e:2379"], {});
  if (given.action !== "run") throw new Error("not run");
  assert.deepEqual(secondaryEndpoints(given.options), ["http://e:2379"]);
  const standalone = await parseServeArgs([], {});
  if (standalone.action !== "run") throw new Error("not run");
  assert.equal(clusterModeOf(standalone.options), "standalone");
});

Deno.test("a secondary follows Easegress's older cluster-join-urls; a primary is told to list --initial-cluster", async () => {
  const { clusterModeOf, secondaryEndpoints } = await import("../../../server/cluster_setup.ts");
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeTextFile(
      file,
      "name: r1\ncluster-role: reader\ncluster-join-urls: http://a:2380,http://b:2380\n",
    );
    const reader = await parseServeArgs(["-f", file], {});
    if (reader.action !== "run") throw new Error("not run");
    assert.equal(clusterModeOf(reader.options), "external-etcd");
    assert.deepEqual(secondaryEndpoints(reader.options), ["http://a:2380", "http://b:2380"]);
  } finally {
    await Deno.remove(file);
  }
  await assert.rejects(
    parseServeArgs(["--cluster-join-urls", "http://a:2380"], {}),
    (e: Error) =>
      e instanceof OptionsError && /a primary joins by --initial-cluster/.test(e.message),
  );
  await assert.rejects(
    parseServeArgs(
      ["--initial-cluster", "a=http://a:2380", "--cluster-join-urls", "http://a:2380"],
      {},
    ),
    (e: Error) => e instanceof OptionsError && /both defined/.test(e.message),
  );
  await assert.rejects(
    parseServeArgs(["--cluster-role", "secondary", "--cluster-join-urls", "a:2380"], {}),
    (e: Error) =>
      e instanceof OptionsError && /--cluster-join-urls: "a:2380" is not an http/.test(e.message),
  );
});

Deno.test("Easegress's deprecated cluster-*-urls are taken as the options they became, with a note", async () => {
  const { clusterModeOf } = await import("../../../server/cluster_setup.ts");
  const command = await parseServeArgs([
    "--name",
    "m1",
    "--cluster-listen-client-urls",
    "http://10.0.0.1:2379",
    "--cluster-listen-peer-urls=http://10.0.0.1:2380",
    "--cluster-advertise-client-urls",
    "http://h1:2379",
    "--cluster-initial-advertise-peer-urls",
    "http://h1:2380",
  ], {});
  if (command.action !== "run") throw new Error("not run");
  const o = command.options;
  assert.deepEqual(o.listenClientUrls, ["http://10.0.0.1:2379"]);
  assert.deepEqual(o.listenPeerUrls, ["http://10.0.0.1:2380"]);
  assert.deepEqual(o.advertiseClientUrls, ["http://h1:2379"]);
  assert.deepEqual(o.initialAdvertisePeerUrls, ["http://h1:2380"]);
  // No initial cluster: a one-member built-in etcd on those URLs, as Easegress runs.
  assert.deepEqual(o.initialCluster, { m1: "http://h1:2380" });
  assert.equal(clusterModeOf(o), "built-in-etcd");
  assert.match(
    command.warnings.join("\n"),
    /--cluster-listen-client-urls is deprecated: taken as --listen-client-urls http:\/\/10\.0\.0\.1:2379/,
  );
  assert.match(command.warnings.join("\n"), /one-member built-in etcd cluster/);
  assert.equal(command.warnings.length, 5);
  assert.match(
    serveHelp(),
    /--cluster-listen-peer-urls VALUE +deprecated in Easegress: --listen-peer-urls/,
  );

  // From a config file and EG_*: flag > file > environment, as for the other options.
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeTextFile(
      file,
      "name: m2\ncluster-listen-client-urls:\n  - http://127.0.0.1:2479\n" +
        "cluster-initial-advertise-peer-urls: http://127.0.0.1:2480\n",
    );
    const fromFile = await parseServeArgs(["-f", file], {
      EG_CLUSTER_LISTEN_CLIENT_URLS: "http://127.0.0.1:2579",
      EG_CLUSTER_LISTEN_PEER_URLS: "http://127.0.0.1:2580",
    });
    if (fromFile.action !== "run") throw new Error("not run");
    assert.deepEqual(fromFile.options.listenClientUrls, ["http://127.0.0.1:2479"]);
    assert.deepEqual(fromFile.options.listenPeerUrls, ["http://127.0.0.1:2580"]);
    assert.deepEqual(fromFile.options.initialCluster, { m2: "http://127.0.0.1:2480" });
    assert.ok(!fromFile.warnings.some((w) => /unknown key/.test(w)), fromFile.warnings.join("\n"));
    assert.match(
      fromFile.warnings.join("\n"),
      new RegExp(`config file ${file}: cluster-listen-client-urls is deprecated`),
    );
  } finally {
    await Deno.remove(file);
  }

  // With an initial cluster the new options win (Easegress then reads only those).
  const both = await parseServeArgs([
    "--initial-cluster",
    "a=http://a:2380",
    "--name",
    "a",
    "--listen-client-urls",
    "http://a:2379",
    "--cluster-listen-client-urls",
    "http://old:2379",
    "--cluster-listen-peer-urls",
    "http://a:2380",
  ], {});
  if (both.action !== "run") throw new Error("not run");
  assert.deepEqual(both.options.listenClientUrls, ["http://a:2379"]);
  assert.deepEqual(both.options.listenPeerUrls, ["http://a:2380"]);
  assert.deepEqual(both.options.initialCluster, { a: "http://a:2380" });
  assert.match(both.warnings.join("\n"), /--cluster-listen-client-urls is deprecated and ignored/);

  // A secondary runs no etcd: the URLs are taken, no cluster is made up.
  const secondary = await parseServeArgs(
    ["--cluster-role", "secondary", "--cluster-listen-client-urls", "http://s:2379"],
    {},
  );
  if (secondary.action !== "run") throw new Error("not run");
  assert.deepEqual(secondary.options.initialCluster, {});
  await assert.rejects(
    parseServeArgs(["--cluster-listen-peer-urls", "10.0.0.1:2380"], {}),
    (e: Error) =>
      e instanceof OptionsError &&
      /--cluster-listen-peer-urls: "10\.0\.0\.1:2380" is not an http/.test(e.message),
  );
});

Deno.test("a primary whose cluster-join-urls name itself starts the cluster, as Easegress adjusts it", async () => {
  const command = await parseServeArgs([
    "--name",
    "w1",
    "--cluster-role",
    "writer",
    "--cluster-initial-advertise-peer-urls",
    "http://127.0.0.1:2380",
    "--cluster-join-urls",
    "http://127.0.0.1:2380",
  ], {});
  if (command.action !== "run") throw new Error("not run");
  assert.deepEqual(command.options.clusterJoinUrls, []);
  assert.deepEqual(command.options.initialCluster, { w1: "http://127.0.0.1:2380" });
  assert.match(command.warnings.join("\n"), /changed to empty because it tries to join itself/);
});

Deno.test("the admin API's TLS and basic auth options are checked together", async () => {
  await assert.rejects(run(["--tls"]), /--tls: give the admin API's certificate and key/);
  await assert.rejects(
    run(["--cert-file", "a.pem", "--key-file", "a.key"]),
    /--cert-file: the admin API serves plain HTTP unless --tls is given too/,
  );
  await assert.rejects(run(["--basic-auth", "admin="]), /--basic-auth: "admin" needs a password/);
  const o = await run(["--basic-auth", "admin=s3cret,ops=pw"]);
  assert.deepEqual(o.basicAuth, { admin: "s3cret", ops: "pw" });
  assert.deepEqual(optionsDocument(o as never)["basic-auth"], { admin: "******", ops: "******" });
});
