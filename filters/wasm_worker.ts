/**
 * A WasmHost worker: one instance of a module, run for one request at a
 * time on the snapshot the filter sends, so the filter can end a call that
 * runs past its timeout by ending the worker.
 *
 * Messages in: `{type: "init", bytes, parameters}`, then `{type: "run",
 * exchange, data?}` (`data`: what changed in the filter's shared data since
 * the last run); out: `{type: "compiled"}` once the module compiled and
 * before its code runs, then `{type: "ready"}` or `{type: "failed", message}`,
 * then `{type: "done", outcome}` or `{type: "error", message}` per run,
 * each with the `dataOps` the module made.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { WasmClusterData, type WasmDataChanges } from "./wasm_cluster_data.ts";
import { contextOf, type ExchangeIn, outcomeOf } from "./wasm_exchange.ts";
import { WasmVM } from "./wasm_vm.ts";

/** What the worker is told. */
export type WasmWorkerRequest =
  | { type: "init"; bytes: Uint8Array; parameters: Record<string, string> }
  | { type: "run"; exchange: ExchangeIn; data?: WasmDataChanges };

let vm: WasmVM | undefined;
let logs: [number, string][] = [];
const data = new WasmClusterData();
const log = (level: number, message: string) => void logs.push([level, message]);

self.onmessage = (event: MessageEvent<WasmWorkerRequest>) => {
  const msg = event.data;
  if (msg.type === "init") {
    try {
      const module = new WebAssembly.Module(msg.bytes as BufferSource);
      // The module's own code (a start function, wasm_init) runs from here on: the filter
      // times it from this message, so starting the isolate and compiling are not counted.
      self.postMessage({ type: "compiled" });
      vm = new WasmVM(module, msg.parameters, data, log);
      self.postMessage({ type: "ready", logs, dataOps: data.takeOps() });
    } catch (e) {
      self.postMessage({ type: "failed", message: (e as Error).message });
    }
    logs = [];
    return;
  }
  logs = [];
  if (msg.data) data.update(msg.data);
  try {
    const ctx = contextOf(msg.exchange);
    const result = vm!.run(ctx);
    const outcome = outcomeOf(ctx, msg.exchange, result, logs);
    self.postMessage({ type: "done", outcome, dataOps: data.takeOps() });
  } catch (e) {
    // What the module stored before it trapped stays stored, as in Easegress.
    self.postMessage({
      type: "error",
      message: (e as Error).message,
      logs,
      dataOps: data.takeOps(),
    });
  }
};
