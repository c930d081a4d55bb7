/**
 * The node's service registry objects at work: each is read every sync
 * interval, and what it lists, grouped by service, goes to the data planes
 * whenever it changed. A registry that cannot be read keeps its last
 * instances (a registry outage does not move traffic) and says why in its
 * status; a deleted one takes its instances away.
 *
 * @module
 */

import type { Logger } from "../../filters/filter.ts";
import type { RegistryServices, ServiceInstance } from "../../filters/service_directory.ts";
import { type RegistrySource, registrySource } from "./sources.ts";
import { type RegistrySpec, syncIntervalMs } from "./spec.ts";

/** Where the instances go: the node's data planes. */
export type ServicesSink = (
  registry: string,
  services: RegistryServices | undefined,
) => unknown;

interface Running {
  kind: RegistrySpec["kind"];
  spec: string;
  source: RegistrySource;
  timer: ReturnType<typeof setTimeout> | undefined;
  stopped: boolean;
  /** What was last sent, as JSON. */
  sent: string;
  services: RegistryServices;
  error: string;
  lastSync: string;
  /** Whether this spec has been read yet. */
  read: boolean;
  syncing: Promise<void> | undefined;
}

/** Runs the registry objects of a node. */
export class RegistryController {
  readonly #sink: ServicesSink;
  readonly #log: Logger;
  readonly #running = new Map<string, Running>();

  constructor(sink: ServicesSink, log: Logger) {
    this.#sink = sink;
    this.#log = log;
  }

  /** Takes the registry objects now stored: starts new ones, restarts changed ones, stops gone ones. */
  update(specs: readonly RegistrySpec[]): void {
    const wanted = new Map(specs.map((s) => [s.name, s]));
    const changed = new Map<string, Running>();
    for (const [name, running] of this.#running) {
      const spec = wanted.get(name);
      if (spec && JSON.stringify(spec) === running.spec) continue;
      this.#stop(name, running, spec === undefined);
      if (spec) changed.set(name, running);
    }
    for (const spec of specs) {
      if (!this.#running.has(spec.name)) this.#start(spec, changed.get(spec.name));
    }
  }

  /** The status of the registry called `name`, or undefined. */
  status(name: string): Record<string, unknown> | undefined {
    const running = this.#running.get(name);
    if (!running) return undefined;
    const services: Record<string, number> = {};
    for (const [service, instances] of Object.entries(running.services)) {
      services[service] = instances.length;
    }
    // Easegress's fields: health ("ready" or the error; "reading" until first read) and the instance counts,
    // named serviceInstancesNum by its ZooKeeper registry and instancesNum by the others.
    const counts = running.kind === "ZookeeperServiceRegistry"
      ? "serviceInstancesNum"
      : "instancesNum";
    return {
      name,
      health: running.error || (running.read ? "ready" : "reading"),
      error: running.error,
      lastSync: running.lastSync,
      services,
      [counts]: { ...services },
    };
  }

  /** Stops every registry (their instances stay with the data planes, which are closing too). */
  async close(): Promise<void> {
    const all = [...this.#running];
    this.#running.clear();
    await Promise.all(all.map(async ([, running]) => {
      running.stopped = true;
      clearTimeout(running.timer);
      await running.syncing;
      await running.source.close();
    }));
  }

  /**
   * Starts reading `spec`. A changed registry (`previous` its old run)
   * starts from what the data planes hold already, its old instances,
   * until it is read: its status shows the instances in use.
   */
  #start(spec: RegistrySpec, previous?: Running): void {
    const running: Running = {
      kind: spec.kind,
      spec: JSON.stringify(spec),
      source: registrySource(spec),
      timer: undefined,
      stopped: false,
      sent: previous?.sent ?? "",
      services: previous?.services ?? {},
      error: "",
      lastSync: previous?.lastSync ?? "",
      read: false,
      syncing: undefined,
    };
    this.#running.set(spec.name, running);
    const interval = syncIntervalMs(spec);
    const tick = () => {
      running.syncing = this.#sync(spec.name, running).finally(() => {
        running.syncing = undefined;
        if (running.stopped) return;
        running.timer = setTimeout(tick, interval);
        Deno.unrefTimer(running.timer as unknown as number);
      });
    };
    tick();
  }

  #stop(name: string, running: Running, gone: boolean): void {
    this.#running.delete(name);
    running.stopped = true;
    clearTimeout(running.timer);
    (running.syncing ?? Promise.resolve()).then(() => running.source.close()).catch(() => {});
    if (gone) this.#sink(name, undefined);
  }

  async #sync(name: string, running: Running): Promise<void> {
    let instances: ServiceInstance[];
    try {
      instances = await running.source.list();
    } catch (e) {
      const message = (e as Error).message;
      if (message !== running.error) this.#log.warn(`registry ${name}: ${message}`);
      running.error = message;
      return;
    }
    if (running.stopped) return;
    running.error = "";
    running.read = true;
    running.lastSync = new Date().toISOString();
    const services: RegistryServices = {};
    for (const instance of instances) (services[instance.serviceName] ??= []).push(instance);
    for (const list of Object.values(services)) {
      list.sort((a, b) => a.instanceID < b.instanceID ? -1 : a.instanceID > b.instanceID ? 1 : 0);
    }
    running.services = services;
    const text = JSON.stringify(services);
    if (text === running.sent) return;
    running.sent = text;
    this.#log.info(
      `registry ${name}: ${instances.length} instance(s) of ${
        Object.keys(services).length
      } service(s)`,
    );
    await this.#sink(name, services);
  }
}
