/**
 * The objects a node runs in its control plane rather than its data
 * planes: the AutoCertManager (once per cluster, on the elected member), the
 * service registries (every member reads its own) and EaseMonitorMetrics
 * (every member sends its own statistics), fed the stored objects by the
 * supervisor like the data planes.
 *
 * @module
 */

import type { EtcdStore } from "../cluster/etcd_store.ts";
import { soleLeadership } from "../cluster/leadership.ts";
import type { Store } from "../cluster/store.ts";
import type { Logger } from "../filters/filter.ts";
import type { RegistryServices } from "../filters/service_directory.ts";
import { AutoCertController } from "./autocert/manager.ts";
import { EaseMonitorController } from "./easemonitor/controller.ts";
import type { AutoCertManagerSpec } from "./autocert/spec.ts";
import type { ObjectSpec } from "./objects.ts";
import { RegistryController } from "./registry/controller.ts";
import { isRegistryKind, type RegistrySpec } from "./registry/spec.ts";
import type { StatusSnapshot } from "./status_snapshots.ts";

/** What the control-plane objects need from their node. */
export interface ControlObjectsEnv {
  store: Store;
  logger(scope: string): Logger;
  /** Whether other members share the store (a challenge answer must reach them too). */
  clustered: boolean;
  /** Hands a registry's instances to the data planes. */
  updateServices(registry: string, services: RegistryServices | undefined): unknown;
  /** Resolves once the data planes serve what the store holds now. */
  syncDataPlanes(): Promise<void>;
  /** The node's object statuses, shared with the cluster's status sync. */
  statusSnapshot(): Promise<StatusSnapshot>;
  /** The member's name and the cluster's. */
  memberName: string;
  clusterName: string;
}

/** The AutoCertManager, the service registries and the EaseMonitorMetrics of a node. */
export class ControlObjects {
  readonly #autoCert: AutoCertController;
  readonly #registries: RegistryController;
  readonly #monitors: EaseMonitorController;

  constructor(env: ControlObjectsEnv) {
    const store = env.store;
    this.#autoCert = new AutoCertController({
      store,
      log: env.logger("autocert"),
      lead: (signal) =>
        "campaign" in store
          ? (store as EtcdStore).campaign("autocert", signal)
          : Promise.resolve(soleLeadership(signal)),
      syncDataPlanes: env.syncDataPlanes,
      // Other members learn of a challenge answer through their watches.
      propagationMs: env.clustered ? 1_000 : 0,
    });
    this.#registries = new RegistryController(env.updateServices, env.logger("registry"));
    this.#monitors = new EaseMonitorController({
      log: env.logger("easemonitor"),
      snapshot: env.statusSnapshot,
      hostName: env.memberName,
      system: env.clusterName,
    });
  }

  /** Takes the stored objects: those of the control plane's kinds start, change or stop. */
  update(desired: readonly ObjectSpec[]): void {
    this.#autoCert.update(
      desired.filter((spec): spec is AutoCertManagerSpec => spec.kind === "AutoCertManager"),
    );
    this.#registries.update(
      desired.filter((spec): spec is RegistrySpec => isRegistryKind(spec.kind)),
    );
    this.#monitors.update(desired);
  }

  /** The status of the control-plane object called `name`, or undefined. */
  status(name: string): Record<string, unknown> | undefined {
    return this.#autoCert.status(name) ?? this.#registries.status(name) ??
      this.#monitors.status(name);
  }

  /** Stops them all. */
  async close(): Promise<void> {
    await Promise.all([
      this.#autoCert.close(),
      this.#registries.close(),
      this.#monitors.close(),
    ]);
  }
}
