/**
 * What data planes ask of the control plane, which owns the store: writing
 * the WasmHost filters' shared data and keeping MQTT sessions. A data plane
 * in the main isolate calls the services directly; one in a worker sends
 * the same calls as messages, and waits for the answer of those that have
 * one (see `messagedControlServices` and `WorkerPlane`).
 *
 * @module
 */

import type { ScopedWasmOps } from "../filters/wasm_shared_data.ts";
import type { MqttSessionStore, StoredSubscriptions } from "./mqtt/session_store.ts";

/** The control plane's services for data planes. */
export interface ControlServices {
  /** Takes the WasmHost filters' shared-data changes to the store. */
  storeWasmData(batch: ScopedWasmOps[]): void;
  /** Keeps the subscriptions of persistent MQTT sessions. */
  readonly mqttSessions: MqttSessionStore;
}

/** One call of a {@linkcode ControlServices} method, as a message carries it. */
export type ControlCall =
  | { op: "storeWasmData"; batch: ScopedWasmOps[] }
  | { op: "loadMqttSession"; proxy: string; clientID: string }
  | {
    op: "saveMqttSession";
    proxy: string;
    clientID: string;
    subscriptions: StoredSubscriptions;
  }
  | { op: "removeMqttSession"; proxy: string; clientID: string };

/** Carries out `call` on `services`; returns its answer. */
export function runControlCall(services: ControlServices, call: ControlCall): unknown {
  switch (call.op) {
    case "storeWasmData":
      return services.storeWasmData(call.batch);
    case "loadMqttSession":
      return services.mqttSessions.load(call.proxy, call.clientID);
    case "saveMqttSession":
      return services.mqttSessions.save(call.proxy, call.clientID, call.subscriptions);
    case "removeMqttSession":
      return services.mqttSessions.remove(call.proxy, call.clientID);
  }
}

/**
 * Services whose calls travel as messages: `send` for those without an
 * answer, `ask` for those with one.
 */
export function messagedControlServices(
  send: (call: ControlCall) => void,
  ask: (call: ControlCall) => Promise<unknown>,
): ControlServices {
  return {
    storeWasmData: (batch) => send({ op: "storeWasmData", batch }),
    mqttSessions: {
      load: (proxy, clientID) =>
        ask({ op: "loadMqttSession", proxy, clientID }) as Promise<
          StoredSubscriptions | undefined
        >,
      save: (proxy, clientID, subscriptions) =>
        send({ op: "saveMqttSession", proxy, clientID, subscriptions }),
      remove: (proxy, clientID) => send({ op: "removeMqttSession", proxy, clientID }),
    },
  };
}
