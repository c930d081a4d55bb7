/**
 * The MQTTClientAuth filter, as Easegress's: on an MQTTProxy's Connect, the
 * username must be listed in `auth` and the hex SHA-256 of the password
 * followed by `salt` must be its `saltedSha256Pass`; a client without an id
 * fails too. A failure disconnects the client (CONNACK 5, not authorized)
 * and returns `AuthFail`. Other packets pass.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import type { Context } from "./context.ts";
import type { FilterInstance, FilterKind } from "./filter.ts";
import { MqttContext } from "./mqtt_context.ts";
import { SpecReader } from "./spec.ts";

/** One user: the hex SHA-256 of password + salt. */
export interface MqttUserSpec {
  username: string;
  saltedSha256Pass: string;
}

/** The MQTTClientAuth spec, normalized. */
export interface MqttClientAuthSpec {
  salt: string;
  auth: MqttUserSpec[];
}

/** The client was refused. */
export const RESULT_AUTH_FAIL = "AuthFail";

function validate(raw: Record<string, unknown>): MqttClientAuthSpec {
  const r = SpecReader.root(raw);
  const spec: MqttClientAuthSpec = {
    salt: r.string("salt", { default: "" }),
    auth: r.array("auth", (ur) => {
      const given = ur.string("saltedSha256Pass", { required: true });
      const saltedSha256Pass = (given ?? "").toLowerCase();
      // An empty one too: no password hashes to it, and comparing with it would throw.
      if (given !== undefined && !/^[0-9a-f]{64}$/.test(saltedSha256Pass)) {
        ur.problem("saltedSha256Pass", "must be a hex SHA-256 (64 hex digits)");
      }
      return { username: ur.string("username", { required: true }) ?? "", saltedSha256Pass };
    }, { required: true, minItems: 1 }) ?? [],
  };
  r.finish();
  r.throwIfProblems();
  return spec;
}

class MqttClientAuth implements FilterInstance {
  readonly #salt: string;
  readonly #users: Map<string, Uint8Array>;

  constructor(spec: MqttClientAuthSpec) {
    this.#salt = spec.salt;
    this.#users = new Map(
      spec.auth.map((u) => [u.username, Uint8Array.fromHex(u.saltedSha256Pass)]),
    );
  }

  handle(ctx: Context): string {
    if (!(ctx instanceof MqttContext) || ctx.packet.type !== "Connect") return "";
    const { client, password } = ctx.packet;
    const expected = this.#users.get(client.username);
    const given = createHash("sha256").update(password ?? new Uint8Array()).update(this.#salt)
      .digest();
    if (client.clientID === "" || !expected || !timingSafeEqual(given, expected)) {
      ctx.disconnect = true;
      return RESULT_AUTH_FAIL;
    }
    return "";
  }
}

/** The MQTTClientAuth filter kind. */
export const mqttClientAuthKind: FilterKind<MqttClientAuthSpec> = {
  kind: "MQTTClientAuth",
  description: "MQTTClientAuth checks MQTT clients' usernames and salted SHA-256 passwords.",
  results: [RESULT_AUTH_FAIL],
  validate,
  create(spec: MqttClientAuthSpec): FilterInstance {
    return new MqttClientAuth(spec);
  },
};
