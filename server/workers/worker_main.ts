/**
 * The entry of a data-plane worker isolate: builds its own filter registry,
 * plugins and DataPlane (listeners with reusePort, so the kernel spreads
 * connections over the workers) and answers the control plane's messages.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { builtinFilters } from "../../filters/registry.ts";
import { SharedSlots } from "../../filters/shared_slots.ts";
import { SharedRegions } from "../../filters/shared_regions.ts";
import { sendLatencyBuckets } from "../../filters/http_stats.ts";
import { isolateHeapTrim } from "../idle_heap_trim.ts";
import { DataPlane } from "../dataplane.ts";
import { BufferedLineWriter } from "../buffered_line_writer.ts";
import { LogSink, openLogFile } from "../log.ts";
import { loadPlugins } from "../plugins.ts";
import { thisIsolate } from "../profiling/node_profiler.ts";
import { messagedControlServices } from "../control_calls.ts";
import type { WorkerInit, WorkerReply, WorkerRequest } from "./protocol.ts";

let plane: DataPlane | undefined;
let closeAll: (() => void) | undefined;
const profiler = thisIsolate("worker");
/** Control calls waiting for their answer, by id. */
const asked = new Map<number, PromiseWithResolvers<unknown>>();
let nextAsk = 1;
/** Settles when the last apply has. */
let applied: Promise<unknown> = Promise.resolve();
const control = messagedControlServices(
  (call) => send({ type: "control", call }),
  (call) => {
    const id = nextAsk++;
    const answer = Promise.withResolvers<unknown>();
    asked.set(id, answer);
    send({ type: "control", id, call });
    return answer.promise;
  },
);

function send(reply: WorkerReply): void {
  self.postMessage(reply);
}

async function init(msg: WorkerInit): Promise<void> {
  // The control plane merges every worker's statistics: exactly, from their latency buckets.
  sendLatencyBuckets(true);
  isolateHeapTrim.configure(msg.heapTrimAfterMs);
  const logFile = await openLogFile(msg.logDir, "stdout.log");
  const logs = new LogSink({ level: msg.debug ? "debug" : "info", file: logFile });
  let accessLog: BufferedLineWriter | undefined;
  if (msg.accessLog) {
    accessLog = new BufferedLineWriter(await openLogFile(msg.logDir, "filter_http_access.log"));
  }
  const filters = builtinFilters();
  await loadPlugins(msg.plugins, filters);
  plane = new DataPlane({
    filters,
    logs,
    accessLog,
    reusePort: true,
    // One UDP socket per port: the first worker serves HTTP/3.
    quic: msg.index === 0,
    // MQTT sessions live in one isolate: the first worker runs the MQTTProxies.
    mqtt: msg.index === 0,
    planes: msg.count,
    http1Server: msg.http1Server,
    scope: `worker-${msg.index}`,
    // Each worker claims shared cells as itself, so its claims can be given up if it crashes.
    sharedSlots: new SharedSlots(msg.sharedBuffer, msg.index),
    sharedRegions: new SharedRegions(msg.regionsBuffer, msg.index),
    control,
  });
  closeAll = () => {
    accessLog?.close();
    logs.close();
  };
}

async function handle(msg: WorkerRequest): Promise<unknown> {
  switch (msg.type) {
    case "apply": {
      // One at a time: a replacement's catch-up apply and the next change may both arrive.
      const done = applied.then(() => plane!.apply(msg.objects, msg.data));
      applied = done.catch(() => {});
      return await done;
    }
    case "status":
      return plane!.status(msg.name, msg.keepWindows) ?? null;
    case "services":
      plane!.updateServices(msg.registry, msg.services);
      return null;
    case "mqtt":
      return plane!.mqttAdmin(msg.name, msg.request) ?? null;
    case "profile":
      return await profiler.run(msg.action) ?? null;
    case "wasmData":
      plane!.updateWasmData(msg.entries, msg.full);
      return null;
    case "wasmReload":
      plane!.reloadWasmCode();
      return null;
    case "controlReply":
      return undefined;
    case "close":
      await plane!.close();
      closeAll?.();
      return null;
  }
}

self.onmessage = async (event: MessageEvent<WorkerInit | WorkerRequest>) => {
  const msg = event.data;
  if (msg.type === "controlReply") {
    const answer = asked.get(msg.id);
    asked.delete(msg.id);
    if (msg.error !== undefined) answer?.reject(new Error(msg.error));
    else answer?.resolve(msg.result);
    return;
  }
  if (msg.type === "init") {
    try {
      await init(msg);
      send({ type: "ready" });
    } catch (e) {
      send({ type: "failed", message: (e as Error).message });
    }
    return;
  }
  try {
    send({ type: "reply", id: msg.id, result: await handle(msg) });
  } catch (e) {
    send({ type: "reply", id: msg.id, error: (e as Error).message });
  }
};
