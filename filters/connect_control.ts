/**
 * The ConnectControl filter, as Easegress's: on an MQTTProxy's Publish, a
 * client or topic that is banned (listed, or matching the regular
 * expression) is disconnected and the result is `bannedClientOrTopicError`.
 * The status counts the clients and topics banned so far.
 *
 * @module
 */

import type { Context } from "./context.ts";
import type { FilterInstance, FilterKind } from "./filter.ts";
import { MqttContext } from "./mqtt_context.ts";
import { SpecReader } from "./spec.ts";
import { compileGoRegexp } from "./go_regexp.ts";

/** The ConnectControl spec, normalized. */
export interface ConnectControlSpec {
  bannedClientRe?: string;
  bannedClients: string[];
  bannedTopicRe?: string;
  bannedTopics: string[];
}

/** The client or the topic is banned. */
export const RESULT_BANNED = "bannedClientOrTopicError";

function validate(raw: Record<string, unknown>): ConnectControlSpec {
  const r = SpecReader.root(raw);
  const spec: ConnectControlSpec = {
    bannedClients: r.stringArray("bannedClients") ?? [],
    bannedTopics: r.stringArray("bannedTopics") ?? [],
  };
  const clientRe = r.regexp("bannedClientRe");
  const topicRe = r.regexp("bannedTopicRe");
  if (clientRe) spec.bannedClientRe = clientRe;
  if (topicRe) spec.bannedTopicRe = topicRe;
  r.finish();
  r.throwIfProblems();
  return spec;
}

class ConnectControl implements FilterInstance {
  readonly #clients: ReadonlySet<string>;
  readonly #topics: ReadonlySet<string>;
  readonly #clientRe: RegExp | undefined;
  readonly #topicRe: RegExp | undefined;
  #bannedClients = 0;
  #bannedTopics = 0;

  constructor(spec: ConnectControlSpec) {
    this.#clients = new Set(spec.bannedClients);
    this.#topics = new Set(spec.bannedTopics);
    this.#clientRe = spec.bannedClientRe ? compileGoRegexp(spec.bannedClientRe) : undefined;
    this.#topicRe = spec.bannedTopicRe ? compileGoRegexp(spec.bannedTopicRe) : undefined;
  }

  handle(ctx: Context): string {
    if (!(ctx instanceof MqttContext) || ctx.packet.type !== "Publish") return "";
    const client = ctx.packet.client.clientID;
    const topic = ctx.packet.topic ?? "";
    if (this.#clients.has(client) || this.#clientRe?.test(client)) {
      this.#bannedClients++;
    } else if (this.#topics.has(topic) || this.#topicRe?.test(topic)) {
      this.#bannedTopics++;
    } else return "";
    ctx.disconnect = true;
    return RESULT_BANNED;
  }

  status(): unknown {
    return { bannedClientNum: this.#bannedClients, bannedTopicNum: this.#bannedTopics };
  }
}

/** The ConnectControl filter kind. */
export const connectControlKind: FilterKind<ConnectControlSpec> = {
  kind: "ConnectControl",
  description: "ConnectControl disconnects MQTT clients that publish as a banned client or topic.",
  results: [RESULT_BANNED],
  validate,
  create(spec: ConnectControlSpec): FilterInstance {
    return new ConnectControl(spec);
  },
};
