/**
 * Runs a node's EaseMonitorMetrics objects, as Easegress's: every 5 seconds
 * each sends the node's HTTP statistics (its HTTPServers' and its Proxy
 * pools', see records.ts) to its Kafka topic, one JSON record per message,
 * each snapshot once. Every member of a cluster sends its own, named by
 * `host_name`. The status is `health` ("ready", or the last send's error)
 * and the producer's counts.
 *
 * @module
 */

import { KafkaProducer } from "../../filters/kafka/producer.ts";
import type { Logger } from "../../filters/filter.ts";
import type { ObjectSpec } from "../objects.ts";
import type { StatusSnapshot } from "../status_snapshots.ts";
import { pipelineRecords, type RecordOrigin, serverRecords } from "./records.ts";
import type { EaseMonitorMetricsSpec } from "./spec.ts";

/** What the controller needs from its node. */
export interface EaseMonitorEnv {
  log: Logger;
  /** The node's object statuses (shared with the cluster's status sync). */
  snapshot(): Promise<StatusSnapshot>;
  /** The member's name and the cluster's, as the records carry them. */
  hostName: string;
  system: string;
  /** How often statistics are sent. @default 5000 */
  intervalMs?: number;
}

interface Monitor {
  spec: EaseMonitorMetricsSpec;
  producer: KafkaProducer;
}

const INTERVAL_MS = 5_000;
const encoder = new TextEncoder();

/** The EaseMonitorMetrics objects of a node. */
export class EaseMonitorController {
  readonly #env: EaseMonitorEnv;
  readonly #monitors = new Map<string, Monitor>();
  #servers: string[] = [];
  /** Pipeline name -> its Proxy filters' names. */
  #pipelines = new Map<string, string[]>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #lastSent = 0;
  #sending: Promise<void> | undefined;
  /** Read when the first records are made: a node without monitors never asks. */
  #hostIpv4: string | undefined;

  constructor(env: EaseMonitorEnv) {
    this.#env = env;
  }

  /** Takes the stored objects: monitors start, change or stop; the others say what to report. */
  update(desired: readonly ObjectSpec[]): void {
    const wanted = new Map<string, EaseMonitorMetricsSpec>();
    const servers: string[] = [];
    const pipelines = new Map<string, string[]>();
    for (const spec of desired) {
      if (spec.kind === "EaseMonitorMetrics") wanted.set(spec.name, spec);
      else if (spec.kind === "HTTPServer") servers.push(spec.name);
      else if (spec.kind === "Pipeline") {
        pipelines.set(spec.name, spec.filters.filter((f) => f.kind === "Proxy").map((f) => f.name));
      }
    }
    this.#servers = servers;
    this.#pipelines = pipelines;
    for (const [name, monitor] of this.#monitors) {
      const spec = wanted.get(name);
      if (spec !== undefined && JSON.stringify(spec) === JSON.stringify(monitor.spec)) continue;
      this.#monitors.delete(name);
      monitor.producer.close().catch(() => {});
    }
    for (const [name, spec] of wanted) {
      if (this.#monitors.has(name)) continue;
      const log = this.#env.log;
      // Easegress gives the broker the object's name as the client id.
      this.#monitors.set(name, {
        spec,
        producer: new KafkaProducer(spec.kafka.brokers, name, log),
      });
    }
    if (this.#monitors.size > 0 && this.#timer === undefined) {
      this.#timer = setInterval(
        () => this.#sending ??= this.#send(),
        this.#env.intervalMs ?? INTERVAL_MS,
      );
    } else if (this.#monitors.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /** The status of the monitor called `name`, or undefined. */
  status(name: string): Record<string, unknown> | undefined {
    const monitor = this.#monitors.get(name);
    if (monitor === undefined) return undefined;
    const counts = monitor.producer.status();
    return { health: counts.lastError || "ready", ...counts };
  }

  /** Stops sending; each producer sends what it holds (bounded) and disconnects. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#sending;
    const monitors = [...this.#monitors.values()];
    this.#monitors.clear();
    await Promise.all(monitors.map((m) => m.producer.close()));
  }

  async #send(): Promise<void> {
    try {
      const snapshot = await this.#env.snapshot();
      // Each snapshot once, as Easegress sends each status record once.
      if (snapshot.at <= this.#lastSent) return;
      this.#lastSent = snapshot.at;
      const values = this.#records(snapshot).map((r) => encoder.encode(JSON.stringify(r)));
      for (const { spec, producer } of this.#monitors.values()) {
        for (const value of values) await producer.send({ topic: spec.kafka.topic, value });
      }
    } catch (e) {
      this.#env.log.error(`EaseMonitorMetrics: ${e instanceof Error ? e.message : e}`);
    } finally {
      this.#sending = undefined;
    }
  }

  #records(snapshot: StatusSnapshot): Record<string, unknown>[] {
    const origin: RecordOrigin = {
      // Easegress stamps a snapshot with its second.
      timestamp: Math.floor(snapshot.at / 1000) * 1000,
      hostName: this.#env.hostName,
      hostIpv4: this.#hostIpv4 ??= hostIpv4(),
      system: this.#env.system,
    };
    const out: Record<string, unknown>[] = [];
    for (const name of this.#servers) {
      const status = snapshot.statuses.get(name);
      if (status) out.push(...serverRecords(origin, name, status));
    }
    for (const [name, proxies] of this.#pipelines) {
      const status = snapshot.statuses.get(name);
      if (status && proxies.length) out.push(...pipelineRecords(origin, name, status, proxies));
    }
    return out;
  }
}

/** The host's first IPv4 address that is not a loopback one (Easegress's `host_ipv4`). */
function hostIpv4(): string {
  try {
    const addresses = Deno.networkInterfaces().filter((i) => i.family === "IPv4");
    return (addresses.find((i) => !i.address.startsWith("127.")) ?? addresses[0])?.address ?? "";
  } catch {
    return ""; // without --allow-sys
  }
}
