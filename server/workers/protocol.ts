/**
 * Messages between the control plane (main isolate) and data-plane workers.
 *
 * @module
 */

import type { ObjectSpec } from "../objects.ts";
import type { StoreData } from "../store_data.ts";
import type { MqttAdminRequest } from "../mqtt/admin_ops.ts";
import type { RegistryServices } from "../../filters/service_directory.ts";
import type { Http1ServerKind } from "../httpserver/listener.ts";
import type { ProfileAction } from "../profiling/node_profiler.ts";
import type { ControlCall } from "../control_calls.ts";

/** How a worker sets itself up. */
export interface WorkerInit {
  type: "init";
  /** Plugin module specifiers (already resolved to URLs). */
  plugins: string[];
  logDir: string;
  debug: boolean;
  accessLog: boolean;
  /** The worker's index, for log scopes. */
  index: number;
  /** How many workers share the ports. */
  count: number;
  /** What serves plain HTTP/1.1. */
  http1Server: Http1ServerKind;
  /** The node's shared counters. */
  sharedBuffer: SharedArrayBuffer;
  /** The node's shared regions (circuit breakers). */
  regionsBuffer: SharedArrayBuffer;
  /** `--heap-trim-after`, in milliseconds (0: never). */
  heapTrimAfterMs: number;
}

/** A request from the control plane. */
export type WorkerRequest =
  | { type: "apply"; id: number; objects: ObjectSpec[]; data?: StoreData }
  | { type: "status"; id: number; name: string; keepWindows?: boolean }
  | { type: "services"; id: number; registry: string; services?: RegistryServices }
  | { type: "mqtt"; id: number; name: string; request: MqttAdminRequest }
  | { type: "profile"; id: number; action: ProfileAction }
  | { type: "wasmData"; id: number; entries: [string, string | null][]; full: boolean }
  | { type: "wasmReload"; id: number }
  /** The answer to a worker's control call (not itself answered). */
  | { type: "controlReply"; id: number; result?: unknown; error?: string }
  | { type: "close"; id: number };

/** A worker's answer. */
export type WorkerReply =
  | { type: "ready" }
  | { type: "failed"; message: string }
  | { type: "reply"; id: number; result?: unknown; error?: string }
  /** A call on the control plane's services; `id` when the worker waits for the answer. */
  | { type: "control"; id?: number; call: ControlCall };
