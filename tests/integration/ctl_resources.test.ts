/**
 * egctl's resource verbs of Easegress v2.1 and later (create/apply -f, get,
 * describe, delete, api-resources) through the real client and node.
 */

import assert from "node:assert/strict";
import { ctl, eventually, freePort, request, startNodeProcess } from "./helpers.ts";

function manifests(port: number, body: string): string {
  return `kind: HTTPServer
name: demo
port: ${port}
rules:
- paths:
  - pathPrefix: /
    backend: demo-pipeline
---
name: demo-pipeline
kind: Pipeline
filters:
- name: mock
  kind: Mock
  rules:
  - code: 200
    body: ${body}
---
kind: CustomDataKind
name: plans
idField: plan
---
kind: CustomData
name: plans
rebuild: true
list:
- plan: gold
- plan: silver
`;
}

Deno.test("ctl: create, apply, get, describe and delete address resources by kind; create httpproxy proxies", async () => {
  const node = await startNodeProcess();
  const port = freePort();
  const url = `http://127.0.0.1:${port}/`;
  try {
    let r = await node.ctl(["create", "-f", "-"], manifests(port, "one"));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      "create HTTPServer demo successfully\ncreate Pipeline demo-pipeline successfully\n" +
        "create CustomDataKind plans successfully\ncreate CustomData plans successfully\n",
    );
    await eventually("served", async () => (await request(url)).body === "one");
    r = await node.ctl(["apply"], manifests(port, "two"));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^update HTTPServer demo successfully\nupdate Pipeline demo-pipeline/);
    await eventually("updated", async () => (await request(url)).body === "two");

    // edit: the editor's saved file is sent back; a file the node refuses is kept.
    r = await ctl(node.apiAddr, ["edit", "pl", "demo-pipeline"], undefined, {
      EGCTL_EDITOR: "sed -i 's/body: two/body: three/'",
    });
    assert.equal(r.stdout, "edit Pipeline demo-pipeline successfully\n", r.stderr);
    await eventually("edited", async () => (await request(url)).body === "three");
    r = await ctl(node.apiAddr, ["edit", "hs", "demo"], undefined, {
      EGCTL_EDITOR: "sed -i 's/port: .*/port: -1/'",
    });
    assert.equal(r.code, 1);
    const kept = r.stderr.match(/your changes are kept in (\S+)/)?.[1];
    assert.ok(kept, r.stderr);
    assert.match(await Deno.readTextFile(kept), /port: -1/);
    await Deno.remove(kept);
    assert.equal((await request(url)).body, "three");

    r = await node.ctl(["get", "all"]);
    assert.equal(
      r.stdout,
      "NAME            KIND\ndemo            HTTPServer\n" +
        "demo-pipeline   Pipeline\n",
    );
    r = await node.ctl(["get", "HTTPServers"]);
    assert.equal(r.stdout, "NAME   KIND\ndemo   HTTPServer\n");
    r = await node.ctl(["get", "pipeline", "demo-pipeline", "-o", "json"]);
    assert.equal(JSON.parse(r.stdout).filters[0].rules[0].body, "three");
    r = await node.ctl(["get", "cd", "plans"]);
    assert.equal(r.stdout, "PLAN\ngold\nsilver\n");
    r = await node.ctl(["get", "member"]);
    assert.match(
      r.stdout,
      /^NAME +ROLE +API-ADDR +ALIVE +LAST-HEARTBEAT\n\S+ +primary +\S+ +true /,
    );
    r = await node.ctl(["describe", "pipeline", "demo-pipeline", "-o", "json"]);
    const [described] = JSON.parse(r.stdout);
    assert.equal(described.name, "demo-pipeline");
    assert.equal(described.allStatus.length, 1);
    assert.ok(described.allStatus[0].node);

    r = await node.ctl(["delete", "cd", "plans", "silver"]);
    assert.equal(r.stdout, "delete CustomData silver for kind plans successfully\n");
    assert.equal((await node.ctl(["get", "cd", "plans"])).stdout, "PLAN\ngold\n");
    r = await node.ctl(["delete", "customdata", "plans", "--all"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await node.ctl(["get", "cd", "plans"])).stdout, "PLAN\n");

    // egctl's quick proxy: a server and one Pipeline per rule, here in front of the Mock.
    const proxyPort = freePort();
    r = await node.ctl([
      "create",
      "httpproxy",
      "quick",
      "--port",
      String(proxyPort),
      `--rule=/via*=http://127.0.0.1:${port}`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      "create Pipeline quick-pipeline-0 successfully\ncreate HTTPServer quick-server successfully\n",
    );
    const proxied = `http://127.0.0.1:${proxyPort}/via/x`;
    await eventually("proxied", async () => (await request(proxied)).body === "three");
    assert.equal((await request(`http://127.0.0.1:${proxyPort}/other`)).status, 404);
    r = await node.ctl(["delete", "httpserver", "quick-server"]);
    assert.equal(r.code, 0, r.stderr);
    r = await node.ctl(["delete", "pipeline", "quick-pipeline-0"]);
    assert.equal(r.code, 0, r.stderr);

    // A name that does not exist deletes nothing, not even the names before it.
    r = await node.ctl(["delete", "pipeline", "demo-pipeline", "nope"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no Pipeline named "nope"/);
    r = await node.ctl(["delete", "httpserver"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /give the names of the HTTPServers to delete, or --all/);
    r = await node.ctl(["delete", "httpserver", "--all"]);
    assert.equal(r.stdout, "delete HTTPServer demo successfully\n");
    r = await node.ctl(["get", "all"]);
    assert.equal(r.stdout, "NAME            KIND\ndemo-pipeline   Pipeline\n");

    r = await node.ctl(["get", "gadget"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unknown resource "gadget"; resources: .*httpserver, .*customdata/);
    r = await node.ctl(["logs", "--tail", "-1"]);
    assert.match(r.stdout, /INFO\tnode\tnode \S+ ready: admin API on/);
    assert.match(r.stdout, /created pipeline quick-pipeline-0\n/);
    r = await node.ctl(["logs", "--tail=1"]);
    assert.equal(r.stdout.split("\n").length, 2, r.stdout);

    r = await node.ctl(["api-resources"]);
    assert.match(r.stdout, /^NAME +ALIASES +KIND\n/);
    assert.match(r.stdout, /\nhttpserver +httpservers,hs +HTTPServer\n/);
  } finally {
    await node.stop();
  }
});

Deno.test("ctl get KIND NAME -o yaml prints the object itself, which apply takes back", async () => {
  const node = await startNodeProcess({ apiPort: 31911 });
  try {
    let r = await node.ctl(["create", "-f", "-"], manifests(31912, "one"));
    assert.equal(r.code, 0, r.stderr);
    r = await node.ctl(["get", "pipeline", "demo-pipeline", "-o", "yaml"]);
    assert.match(r.stdout, /^name: demo-pipeline\nkind: Pipeline\n/);
    r = await node.ctl(["apply", "-f", "-"], r.stdout.replace("body: one", "body: two"));
    assert.equal(r.stdout, "update Pipeline demo-pipeline successfully\n", r.stderr);
    await eventually(
      "applied",
      async () => (await request("http://127.0.0.1:31912/")).body === "two",
    );
    r = await node.ctl(["get", "hs", "demo", "-o", "json"]);
    assert.equal(JSON.parse(r.stdout).port, 31912);
    // Without a name, or with describe, it is still a list.
    r = await node.ctl(["get", "hs", "-o", "json"]);
    assert.equal(JSON.parse(r.stdout)[0].name, "demo");
  } finally {
    await node.stop();
  }
});

Deno.test("ctl logs -f follows the node's log, and a follower does not hold up the node's stop", async () => {
  const node = await startNodeProcess();
  let stopped = false;
  try {
    const following = ctl(node.apiAddr, ["logs", "-f", "--tail", "1"]);
    // Something new for the follower to print, once it has had time to start.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const port = String(freePort());
    const r = await node.ctl(["create", "httpproxy", "late", "--port", port, "--rule=/=http://h"]);
    assert.equal(r.code, 0, r.stderr);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const began = Date.now();
    await node.stop();
    stopped = true;
    // Without the follower the node stops in a second or two; it used to wait for it to leave.
    assert.ok(Date.now() - began < 15_000, `stop took ${Date.now() - began} ms`);
    const followed = await following;
    assert.equal(followed.code, 0, followed.stderr);
    assert.match(followed.stdout, /created pipeline late-pipeline-0/);
  } finally {
    if (!stopped) await node.stop();
  }
});
