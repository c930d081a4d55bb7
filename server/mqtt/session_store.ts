/**
 * Where MQTTProxy sessions of clients that connected with CleanSession 0
 * are kept beyond this node's memory: their subscriptions, in the store
 * (`/mqtt/sessions/<proxy>/<clientID>`), as Easegress keeps them in etcd.
 * A client that comes back after a restart, or to another node of the
 * cluster, finds its subscriptions there.
 *
 * @module
 */

import { keys, type Store } from "../../cluster/store.ts";
import type { Logger } from "../../filters/filter.ts";
import { errorText } from "../error_text.ts";

/** A session's subscriptions: topic filter -> granted QoS. */
export type StoredSubscriptions = Record<string, 0 | 1>;

/** Keeps the subscriptions of persistent sessions. */
export interface MqttSessionStore {
  /** The stored subscriptions of a session, or undefined when there is none. */
  load(proxy: string, clientID: string): Promise<StoredSubscriptions | undefined>;
  /** Stores a persistent session's subscriptions (in the background). */
  save(proxy: string, clientID: string, subscriptions: StoredSubscriptions): void;
  /** Forgets a session (in the background). */
  remove(proxy: string, clientID: string): void;
}

/** The stored document, as Easegress's SessionInfo has it. */
interface SessionDocument {
  name: string;
  clientID: string;
  cleanFlag: boolean;
  topics: StoredSubscriptions;
}

/** The subscriptions in a stored session document, or undefined when it is not one. */
function subscriptionsOf(value: string): StoredSubscriptions | undefined {
  let doc: Partial<SessionDocument>;
  try {
    doc = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (typeof doc !== "object" || doc === null) return undefined;
  const topics: StoredSubscriptions = {};
  for (const [filter, qos] of Object.entries(doc.topics ?? {})) topics[filter] = qos === 1 ? 1 : 0;
  return topics;
}

/**
 * Every stored session of MQTTProxy `proxy`: client id -> subscriptions.
 * Documents that cannot be read are left out.
 */
export async function storedSessions(
  store: Store,
  proxy: string,
): Promise<Map<string, StoredSubscriptions>> {
  const prefix = keys.mqttSession(proxy, "");
  const sessions = new Map<string, StoredSubscriptions>();
  for (const kv of await store.range(prefix)) {
    const topics = subscriptionsOf(kv.value);
    if (topics !== undefined) sessions.set(decodeURIComponent(kv.key.slice(prefix.length)), topics);
  }
  return sessions;
}

/** Sessions kept in the node's store. */
export class StoredMqttSessions implements MqttSessionStore {
  readonly #store: Store;
  readonly #log: Logger;
  /** Writes per session run in order: a save never overtakes a later remove. */
  readonly #queues = new Map<string, Promise<void>>();

  constructor(store: Store, log: Logger) {
    this.#store = store;
    this.#log = log;
  }

  async load(proxy: string, clientID: string): Promise<StoredSubscriptions | undefined> {
    const key = keys.mqttSession(proxy, clientID);
    await this.#queues.get(key);
    const kv = await this.#store.get(key);
    if (!kv) return undefined;
    const topics = subscriptionsOf(kv.value);
    if (topics === undefined) this.#log.warn(`stored MQTT session ${key} is not JSON: ignored`);
    return topics;
  }

  save(proxy: string, clientID: string, subscriptions: StoredSubscriptions): void {
    const doc: SessionDocument = { name: proxy, clientID, cleanFlag: false, topics: subscriptions };
    this.#enqueue(proxy, clientID, (key) => this.#store.put(key, JSON.stringify(doc)));
  }

  remove(proxy: string, clientID: string): void {
    this.#enqueue(proxy, clientID, (key) => this.#store.delete(key));
  }

  #enqueue(proxy: string, clientID: string, write: (key: string) => Promise<unknown>): void {
    const key = keys.mqttSession(proxy, clientID);
    const queued = (this.#queues.get(key) ?? Promise.resolve()).then(() => write(key)).then(
      () => {},
      (e) => this.#log.warn(`cannot store MQTT session ${key}: ${errorText(e)}`),
    );
    this.#queues.set(key, queued);
    queued.then(() => {
      if (this.#queues.get(key) === queued) this.#queues.delete(key);
    });
  }
}
