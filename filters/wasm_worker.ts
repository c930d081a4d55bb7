/**
 * A WasmHost worker: one instance of a module, run for one request at a
 * time on the snapshot the filter sends, so the filter can end a call that
 * runs past its timeout by ending the worker.
 *
 * Messages in: `{type: "init", bytes, parameters}`, then `{type: "run",
 * exchange}`; out: `{type: "ready"}` or `{type: "failed", message}`, then
 * `{type: "done", outcome}` or `{type: "error", message}` per run.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { contextOf, type ExchangeIn, outcomeOf } from "./wasm_exchange.ts";
import { WasmVM } from "./wasm_vm.ts";

/** What the worker is told. */
export type WasmWorkerRequest =
  | { type: "init"; bytes: Uint8Array; parameters: Record<string, string> }
  | { type: "run"; exchange: ExchangeIn };

let vm: WasmVM | undefined;
let logs: [number, string][] = [];
// Kept for the life of the worker, as Easegress keeps a VM's cluster data view.
const data = new Map<string, string>();
const log = (level: number, message: string) => void logs.push([level, message]);

self.onmessage = (event: MessageEvent<WasmWorkerRequest>) => {
  const msg = event.data;
  if (msg.type === "init") {
    try {
      vm = new WasmVM(new WebAssembly.Module(msg.bytes as BufferSource), msg.parameters, data, log);
      self.postMessage({ type: "ready", logs });
    } catch (e) {
      self.postMessage({ type: "failed", message: (e as Error).message });
    }
    logs = [];
    return;
  }
  logs = [];
  try {
    const ctx = contextOf(msg.exchange);
    const result = vm!.run(ctx);
    self.postMessage({ type: "done", outcome: outcomeOf(ctx, msg.exchange, result, logs) });
  } catch (e) {
    self.postMessage({ type: "error", message: (e as Error).message, logs });
  }
};
