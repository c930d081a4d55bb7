/**
 * MqttSession's packet ids for the QoS 1 messages it queues.
 */

import assert from "node:assert/strict";
import { MqttSession } from "../../../server/mqtt/session.ts";

Deno.test("MqttSession: packet ids come round past one still waiting for its PUBACK", () => {
  const session = new MqttSession("c1", true);
  const message = { topic: "t", payload: new Uint8Array(), qos: 1 as const };
  const stuck = session.queue(message);
  assert.equal(stuck.packetId, 1);
  for (let i = 2; i <= 65535; i++) session.acknowledge(session.queue(message).packetId);
  // Id 1 is still the unacknowledged message's: the next one skips it.
  const next = session.queue(message);
  assert.equal(next.packetId, 2);
  session.acknowledge(1);
  assert.deepEqual(session.pending.map((p) => p.packetId), [2]);
});
