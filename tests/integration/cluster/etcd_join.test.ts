/**
 * What a node joining an etcd finds there, against a real etcd (Debian
 * `etcd-server`) on loopback.
 */

import assert from "node:assert/strict";
import { surveyEtcd } from "../../../cluster/etcd_join.ts";
import { TestEtcdCluster } from "./etcd_fixture.ts";

Deno.test("surveyEtcd() lists the clusters, not other keys kept in the same etcd", async () => {
  const etcd = await TestEtcdCluster.start(1, 26641);
  const { Etcd3 } = await import("etcd3");
  const client = new Etcd3({ hosts: etcd.endpoints });
  try {
    await client.put("/alpha/status/members/n1").value("{}");
    await client.put("/alpha/config/objects/p").value("{}");
    // A cluster whose members are all gone still has its objects.
    await client.put("/beta/config/objects/q").value("{}");
    // An EtcdServiceRegistry's instances, under its default prefix.
    await client.put("/services/orders/a1").value('{"serviceName":"orders"}');
    const survey = await surveyEtcd(etcd.endpoints, 5_000);
    assert.deepEqual([...survey.clusters], [["alpha", ["n1"]], ["beta", []]]);
    assert.deepEqual(survey.etcdMembers, ["m1"]);
  } finally {
    client.close();
    await etcd.close();
  }
});
