/**
 * What the admin API asks of a running MQTTProxy, in a form that crosses
 * to a worker isolate: publish to subscribers, query sessions, delete them.
 *
 * @module
 */

import type { MQTTProxy } from "./proxy.ts";

/** One admin request for an MQTTProxy. */
export type MqttAdminRequest =
  | { action: "publish"; topic: string; qos: 0 | 1; payloadBase64: string }
  | { action: "sessions"; q: string }
  | { action: "deleteSessions"; ids: string[] };

/** Carries out `request` on `proxy`; returns the answer's body. */
export function runMqttAdmin(proxy: MQTTProxy, request: MqttAdminRequest): unknown {
  switch (request.action) {
    case "publish":
      return {
        delivered: proxy.publish({
          topic: request.topic,
          qos: request.qos,
          payload: Uint8Array.fromBase64(request.payloadBase64),
        }),
      };
    case "sessions":
      return { sessions: proxy.querySessions(request.q) };
    case "deleteSessions":
      proxy.deleteSessions(request.ids);
      return {};
  }
}
