/**
 * The ConnectControl filter, as Easegress's: on an MQTTProxy's Publish, a
 * client or topic that is banned (listed, or matching the regular
 * expression) is disconnected and the result is `bannedClientOrTopicError`.
 * The status is Easegress's: the spec's regular expressions and how many
 * clients and topics it lists (`bannedClientNum`, `bannedTopicNum`), empty
 * fields left out.
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
  readonly #status: Record<string, string | number>;

  constructor(spec: ConnectControlSpec) {
    this.#clients = new Set(spec.bannedClients);
    this.#topics = new Set(spec.bannedTopics);
    this.#clientRe = spec.bannedClientRe ? compileGoRegexp(spec.bannedClientRe) : undefined;
    this.#topicRe = spec.bannedTopicRe ? compileGoRegexp(spec.bannedTopicRe) : undefined;
    // Easegress's Status, whose fields are all `omitempty`.
    const status: Record<string, string | number> = {
      bannedClientRe: spec.bannedClientRe ?? "",
      bannedClientNum: spec.bannedClients.length,
      bannedTopicRe: spec.bannedTopicRe ?? "",
      bannedTopicNum: spec.bannedTopics.length,
    };
    for (const [key, value] of Object.entries(status)) if (!value) delete status[key];
    this.#status = status;
  }

  handle(ctx: Context): string {
    if (!(ctx instanceof MqttContext) || ctx.packet.type !== "Publish") return "";
    const client = ctx.packet.client.clientID;
    const topic = ctx.packet.topic ?? "";
    if (
      !this.#clients.has(client) && !this.#clientRe?.test(client) &&
      !this.#topics.has(topic) && !this.#topicRe?.test(topic)
    ) return "";
    ctx.disconnect = true;
    return RESULT_BANNED;
  }

  status(): unknown {
    return { ...this.#status };
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
