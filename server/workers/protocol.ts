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
import type { ScopedWasmOps } from "../../filters/wasm_shared_data.ts";

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
}

/** A request from the control plane. */
export type WorkerRequest =
  | { type: "apply"; id: number; objects: ObjectSpec[]; data?: StoreData }
  | { type: "status"; id: number; name: string }
  | { type: "services"; id: number; registry: string; services?: RegistryServices }
  | { type: "mqtt"; id: number; name: string; request: MqttAdminRequest }
  | { type: "profile"; id: number; action: ProfileAction }
  | { type: "wasmData"; id: number; entries: [string, string | null][]; full: boolean }
  | { type: "wasmReload"; id: number }
  | { type: "close"; id: number };

/** A worker's answer. */
export type WorkerReply =
  | { type: "ready" }
  | { type: "failed"; message: string }
  | { type: "reply"; id: number; result?: unknown; error?: string }
  /** WasmHost shared-data changes for the store (unasked). */
  | { type: "wasmOps"; batch: ScopedWasmOps[] };
