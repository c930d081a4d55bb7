/**
 * The service instances the node's service registries (Consul, Eureka,
 * Nacos, etcd, ZooKeeper objects) last found, by registry and service name:
 * what Proxy pools with `serviceRegistry` and `serviceName` send to. One
 * directory per data plane, fed by the control plane.
 *
 * @module
 */

import { joinHostPort } from "./ip_address.ts";

/** One instance of a service, as Easegress's ServiceInstanceSpec. */
export interface ServiceInstance {
  serviceName: string;
  instanceID: string;
  address: string;
  port: number;
  /** "http" or "https". */
  scheme: string;
  tags: string[];
  weight: number;
}

/** Instances by service name, as one registry last listed them. */
export type RegistryServices = Record<string, ServiceInstance[]>;

/** The instances of every registry, with watchers told of each change. */
export class ServiceDirectory {
  #registries = new Map<string, RegistryServices>();
  readonly #watchers = new Set<() => void>();

  /** The instances of `service` in `registry`: empty when either is unknown. */
  instances(registry: string, service: string): readonly ServiceInstance[] {
    return this.#registries.get(registry)?.[service] ?? [];
  }

  /** Sets what `registry` lists now (undefined: the registry is gone) and tells the watchers. */
  update(registry: string, services: RegistryServices | undefined): void {
    if (services === undefined) this.#registries.delete(registry);
    else this.#registries.set(registry, services);
    for (const watcher of this.#watchers) watcher();
  }

  /** Calls `onChange` after every update until the returned function is called. */
  watch(onChange: () => void): () => void {
    this.#watchers.add(onChange);
    return () => this.#watchers.delete(onChange);
  }
}

/** An instance's URL, as a pool server's: `scheme://address:port`. */
export function instanceURL(instance: ServiceInstance): string {
  return `${instance.scheme || "http"}://${joinHostPort(instance.address, instance.port)}`;
}
