/**
 * The MQTTProxy object, as Easegress's: an MQTT 3.1.1 listener (plain or
 * TLS) whose clients' Connect, Publish, Subscribe, Unsubscribe and
 * Disconnect packets run through the pipelines its rules name, with
 * connection and publish limits. Subscribers receive what the admin API
 * publishes (`/mqttproxy/{name}/topics/publish`), QoS 0 or 1; in
 * `brokerMode` they also receive what clients publish. Sessions live in
 * this node's memory: a client that reconnects with CleanSession 0 finds
 * its subscriptions and the QoS 1 messages it missed. The subscriptions of
 * such sessions are also kept in the store, so a client that comes back
 * after a restart, or to another node of the cluster, finds them there.
 *
 * @module
 */

import type mqtt from "mqtt-packet";
import type { Logger } from "../../filters/filter.ts";
import { MqttContext, type MqttPacketType } from "../../filters/mqtt_context.ts";
import { decodePem } from "../../filters/pem.ts";
import type { PipelineHandler } from "../httpserver/server.ts";
import { FILTER_FAILED } from "../pipeline/pipeline.ts";
import { anyAddress } from "../any_address.ts";
import { ListenRetry } from "../listen_retry.ts";
import { sniResolverSymbol } from "../httpserver/runtime_internals.ts";
import {
  CONNACK_UNACCEPTABLE_PROTOCOL,
  type ConnectionHost,
  type ConnectOutcome,
  MqttConnection,
} from "./connection.ts";
import { MqttSession, type OutboundMessage } from "./session.ts";
import type { MQTTProxySpec, MqttRateLimitSpec } from "./spec.ts";
import type { MqttSessionStore } from "./session_store.ts";

/** What an MQTTProxy needs from its node. */
export interface MqttProxyEnv {
  pipeline(name: string): PipelineHandler | undefined;
  log: Logger;
  /** Where persistent sessions' subscriptions are kept (without it: memory only). */
  sessions?: MqttSessionStore;
  /** Share the port with other listeners (the nodes of a cluster on one host). */
  reusePort?: boolean;
}

/**
 * What a packet whose pipeline could not decide gets: a Connect is refused
 * (CONNACK 5), any other packet dropped (no acknowledgement).
 */
const REFUSED: Record<MqttPacketType, { disconnect: boolean; drop: boolean }> = {
  Connect: { disconnect: true, drop: true },
  Disconnect: { disconnect: false, drop: true },
  Publish: { disconnect: false, drop: true },
  Subscribe: { disconnect: false, drop: true },
  Unsubscribe: { disconnect: false, drop: true },
};

const CONNACK_IDENTIFIER_REJECTED = 2;
const CONNACK_SERVER_UNAVAILABLE = 3;
const CONNACK_BAD_USERNAME_OR_PASSWORD = 4;
const CONNACK_NOT_AUTHORIZED = 5;

/** Counts requests and bytes in fixed windows of `timePeriod` seconds. */
class RateWindow {
  #start = 0;
  #requests = 0;
  #bytes = 0;

  constructor(readonly spec: MqttRateLimitSpec) {}

  /** Whether one more request of `bytes` fits this window (and counts it when it does). */
  allow(bytes: number): boolean {
    const now = Date.now();
    if (now - this.#start >= this.spec.timePeriod * 1000) {
      this.#start = now;
      this.#requests = 0;
      this.#bytes = 0;
    }
    if (this.spec.requestRate > 0 && this.#requests + 1 > this.spec.requestRate) return false;
    if (this.spec.bytesRate > 0 && this.#bytes + bytes > this.spec.bytesRate) return false;
    this.#requests++;
    this.#bytes += bytes;
    return true;
  }
}

/** A running MQTTProxy. */
export class MQTTProxy implements ConnectionHost {
  #spec: MQTTProxySpec;
  readonly #env: MqttProxyEnv;
  readonly log: Logger;
  #listener: Deno.Listener | undefined;
  readonly #listening: ListenRetry<Deno.Listener>;
  /** Connected clients by client id. */
  readonly #clients = new Map<string, MqttConnection>();
  readonly #connections = new Set<MqttConnection>();
  readonly #sessions = new Map<string, MqttSession>();
  #connectLimit: RateWindow | undefined;
  readonly #publishLimits = new WeakMap<MqttConnection, RateWindow>();
  #served = 0;
  #published = 0;
  #anonymous = 0;

  constructor(spec: MQTTProxySpec, env: MqttProxyEnv) {
    this.#spec = spec;
    this.#env = env;
    this.log = env.log;
    this.#connectLimit = spec.connectionLimit && new RateWindow(spec.connectionLimit);
    this.#listening = new ListenRetry(
      () => this.#listen(),
      (listener) => {
        this.#listener = listener;
        this.#accept(listener);
      },
      (listener) => listener.close(),
      (message) => env.log.error(`MQTTProxy ${this.#spec.name}: ${message}`),
      () => this.#spec.port,
    );
    this.#listening.start();
  }

  #listen(): Deno.Listener | Promise<Deno.Listener> {
    const options = {
      hostname: anyAddress(),
      port: this.#spec.port,
      transport: "tcp" as const,
      reusePort: this.#env.reusePort,
    };
    if (!this.#spec.useTLS) return Deno.listen(options);
    const pairs = this.#spec.certificate.map((c) => ({
      cert: decodePem(c.cert),
      key: decodePem(c.key),
    }));
    if (pairs.length === 1 || sniResolverSymbol === undefined) {
      return Deno.listenTls({ ...options, ...pairs[0] });
    }
    return this.#listenSni(options, pairs);
  }

  /**
   * A TLS listener answering each client with the certificate for the server
   * name it asks for (SNI), else the first, as Go's tls.Config chooses among
   * Easegress's certificates; the picker, which needs node:crypto, is loaded
   * only for such proxies.
   */
  async #listenSni(
    options: Deno.TcpListenOptions,
    pairs: { cert: string; key: string }[],
  ): Promise<Deno.Listener> {
    const { certificatePicker } = await import("../httpserver/cert_picker.ts");
    return Deno.listenTls(
      { ...options, [sniResolverSymbol!]: certificatePicker(pairs) } as
        & Deno.ListenTlsOptions
        & Deno.TlsCertifiedKeyPem,
    );
  }

  async #accept(listener: Deno.Listener): Promise<void> {
    for (;;) {
      let socket: Deno.Conn;
      try {
        socket = await listener.accept();
      } catch {
        return; // the listener was closed
      }
      const conn = new MqttConnection(socket, this);
      this.#connections.add(conn);
      conn.serve();
    }
  }

  /** Applies a new spec: rules and limits at once; a port or TLS change restarts the listener. */
  update(spec: MQTTProxySpec): void {
    const old = this.#spec;
    this.#spec = spec;
    if (JSON.stringify(old.connectionLimit) !== JSON.stringify(spec.connectionLimit)) {
      this.#connectLimit = spec.connectionLimit && new RateWindow(spec.connectionLimit);
    }
    // Connected clients too: a limit set against a client flooding now reaches it.
    if (JSON.stringify(old.clientPublishLimit) !== JSON.stringify(spec.clientPublishLimit)) {
      for (const conn of this.#clients.values()) this.#limitPublishes(conn);
    }
    const listenerChanged = old.port !== spec.port || old.useTLS !== spec.useTLS ||
      JSON.stringify(old.certificate) !== JSON.stringify(spec.certificate);
    if (listenerChanged) {
      const previous = this.#listener;
      this.#listener = undefined;
      previous?.close();
      this.#listening.start();
    }
    // Clients on a port, or over plain TCP or TLS, that the proxy no longer serves go (their
    // persistent sessions stay): switched to TLS, clients kept talking in clear. A new
    // certificate leaves them, as a server's renewed certificate leaves open connections.
    if (old.port !== spec.port || old.useTLS !== spec.useTLS) {
      for (const conn of [...this.#connections]) conn.close();
    }
  }

  async connect(conn: MqttConnection, packet: mqtt.IConnectPacket): Promise<ConnectOutcome> {
    // MQTT 3.1.1 is "MQTT" at level 4, 3.1 "MQIsdp" at level 3; paho refuses other pairs.
    const level = packet.protocolId === "MQTT" ? 4 : 3;
    if (packet.protocolVersion !== level) return { returnCode: CONNACK_UNACCEPTABLE_PROTOCOL };
    // A password needs a user name (MQTT-3.1.2-22): paho's check, whose code Easegress answers.
    if (packet.password !== undefined && packet.username === undefined) {
      return { returnCode: CONNACK_BAD_USERNAME_OR_PASSWORD };
    }
    if (this.#full(packet.clientId)) return { returnCode: CONNACK_SERVER_UNAVAILABLE };
    // Easegress counts the CONNECT's remaining length plus 8 bytes of fixed header.
    if (this.#connectLimit && !this.#connectLimit.allow((packet.length ?? 0) + 8)) {
      return { returnCode: CONNACK_SERVER_UNAVAILABLE };
    }
    // MQTT 3.1.1 section 3.1.3.1: an empty client id is for a clean session only.
    if (conn.clientID === "" && !packet.clean) return { returnCode: CONNACK_IDENTIFIER_REJECTED };
    // The Connect pipeline sees the id the client sent: Easegress's MQTTClientAuth refuses an
    // empty one (CONNACK 5).
    const outcome = await this.runRule(conn, "Connect", {}, packet.password);
    if (outcome.disconnect) return { returnCode: CONNACK_NOT_AUTHORIZED };
    // Ended while the pipeline ran (its CONNECT deadline passed): there is no client to take in.
    if (conn.closed) return { returnCode: CONNACK_SERVER_UNAVAILABLE };
    // Let in without one (no Connect pipeline, or one that takes it): the server assigns one.
    if (conn.clientID === "") {
      conn.clientID = `anonymous-${++this.#anonymous}-${Date.now().toString(36)}`;
    }
    let session: MqttSession | undefined;
    for (;;) {
      // Checked again: others were taken in while the pipeline ran (and the store was read).
      if (this.#full(conn.clientID)) return { returnCode: CONNACK_SERVER_UNAVAILABLE };
      // The same client id again: the older connection goes (MQTT 3.1.4 takeover).
      this.#clients.get(conn.clientID)?.close();
      session = this.#sessions.get(conn.clientID);
      if (packet.clean || session) break;
      session = await this.#storedSession(conn.clientID);
      if (conn.closed) return { returnCode: CONNACK_SERVER_UNAVAILABLE };
      // Another connection with this id, taken in while the store was read, goes as well (its
      // session is the one to take over): it was left open, unlisted, beside this one.
      if (!this.#clients.has(conn.clientID)) break;
    }
    const sessionPresent = !packet.clean && session !== undefined;
    if (packet.clean || !session) {
      session = new MqttSession(conn.clientID, !packet.clean);
      // A clean start also ends what an earlier persistent session left in the store.
      if (packet.clean) this.#env.sessions?.remove(this.#spec.name, conn.clientID);
    }
    this.#sessions.set(conn.clientID, session);
    session.persistent = !packet.clean;
    this.#clients.set(conn.clientID, conn);
    this.#served++;
    this.#limitPublishes(conn);
    return { returnCode: 0, session, sessionPresent };
  }

  /**
   * Whether `maxAllowedConnection` clients other than `clientID` are in: a
   * client taking over its own connection (back after a network change)
   * frees its place.
   */
  #full(clientID: string): boolean {
    const max = this.#spec.maxAllowedConnection;
    const others = this.#clients.size - (this.#clients.has(clientID) ? 1 : 0);
    return max > 0 && others >= max;
  }

  /** Gives `conn` a window of the spec's `clientPublishLimit`, or none without one. */
  #limitPublishes(conn: MqttConnection): void {
    const limit = this.#spec.clientPublishLimit;
    if (limit) this.#publishLimits.set(conn, new RateWindow(limit));
    else this.#publishLimits.delete(conn);
  }

  /** The session the store keeps for `clientID` (made here), or undefined. */
  async #storedSession(clientID: string): Promise<MqttSession | undefined> {
    let subscriptions;
    try {
      subscriptions = await this.#env.sessions?.load(this.#spec.name, clientID);
    } catch (e) {
      this.log.warn(
        `MQTTProxy ${this.#spec.name}: cannot read the session of ${clientID}: ${
          (e as Error).message
        }`,
      );
    }
    if (!subscriptions) return undefined;
    const session = new MqttSession(clientID, true);
    for (const [filter, qos] of Object.entries(subscriptions)) {
      session.subscriptions.set(filter, qos);
    }
    return session;
  }

  subscriptionsChanged(session: MqttSession): void {
    if (session.persistent) {
      this.#env.sessions?.save(
        this.#spec.name,
        session.clientID,
        Object.fromEntries(session.subscriptions),
      );
    }
  }

  async runRule(
    conn: MqttConnection,
    type: MqttPacketType,
    fields: { topic?: string; payload?: Uint8Array; qos?: number; topics?: string[] },
    password?: Uint8Array | string,
  ): Promise<{ disconnect: boolean; drop: boolean }> {
    const rule = this.#spec.rules.find((r) => r.when.packetType === type);
    if (!rule) return { disconnect: false, drop: false };
    const pipeline = this.#env.pipeline(rule.pipeline);
    // A rule whose pipeline does not exist refuses, as Easegress does.
    if (!pipeline) {
      this.log.warn(`MQTTProxy ${this.#spec.name}: pipeline ${rule.pipeline} not found`);
      return REFUSED[type];
    }
    const ctx = new MqttContext({
      type,
      client: { clientID: conn.clientID, username: conn.username, remoteAddr: conn.remoteAddr },
      password: typeof password === "string" ? new TextEncoder().encode(password) : password,
      ...fields,
    });
    let result;
    try {
      result = await pipeline.handle(ctx);
    } catch (e) {
      this.log.error(
        `MQTTProxy ${this.#spec.name}: pipeline ${rule.pipeline}: ${(e as Error).message}`,
      );
      return REFUSED[type];
    }
    // A filter that failed (logged by the pipeline) decided nothing: the filters after it, an
    // MQTTClientAuth say, did not run, so the packet is refused rather than let through.
    if (result === FILTER_FAILED) return REFUSED[type];
    return { disconnect: ctx.disconnect, drop: ctx.drop };
  }

  allowPublish(conn: MqttConnection, bytes: number): boolean {
    return this.#publishLimits.get(conn)?.allow(bytes) ?? true;
  }

  published(message: OutboundMessage): void {
    if (this.#spec.brokerMode) this.publish(message);
  }

  closed(conn: MqttConnection, graceful: boolean): void {
    this.#connections.delete(conn);
    if (this.#clients.get(conn.clientID) !== conn) return;
    this.#clients.delete(conn.clientID);
    if (conn.session && !conn.session.persistent) this.#sessions.delete(conn.clientID);
    const will = graceful ? undefined : conn.will;
    (async () => {
      if (will) {
        const outcome = await this.runRule(conn, "Publish", will);
        if (!outcome.disconnect && !outcome.drop) this.published(will);
      }
      await this.runRule(conn, "Disconnect", {});
    })().catch((e) => this.log.warn(`MQTTProxy ${this.#spec.name}: ${(e as Error).message}`));
  }

  /** Delivers `message` to every session subscribed to its topic; returns how many. */
  publish(message: OutboundMessage): number {
    let delivered = 0;
    for (const session of this.#sessions.values()) {
      const qos = session.deliveryQos(message.topic, message.qos);
      if (qos === undefined) continue;
      delivered++;
      const conn = this.#clients.get(session.clientID);
      const outbound = qos === 1 ? session.queue({ ...message, qos }) : { ...message, qos };
      conn?.deliver(outbound);
    }
    this.#published++;
    return delivered;
  }

  /** The subscriptions of this proxy's sessions whose topic contains `q` (all without it). */
  querySessions(q: string): { sessionID: string; topic: string }[] {
    const found: { sessionID: string; topic: string }[] = [];
    for (const session of this.#sessions.values()) {
      for (const topic of session.subscriptions.keys()) {
        if (!q || topic.includes(q)) found.push({ sessionID: session.clientID, topic });
      }
    }
    return found;
  }

  /** Deletes sessions by client id, closing their clients. */
  deleteSessions(ids: readonly string[]): void {
    for (const id of ids) {
      this.#sessions.delete(id);
      this.#env.sessions?.remove(this.#spec.name, id);
      const conn = this.#clients.get(id);
      if (conn?.session) conn.session.persistent = false;
      conn?.close();
    }
  }

  /** The status document of `object status get`. */
  status(): Record<string, unknown> {
    return {
      name: this.#spec.name,
      health: this.#listening.error,
      state: this.#listening.state,
      error: this.#listening.error,
      clients: this.#clients.size,
      sessions: this.#sessions.size,
      connectionsServed: this.#served,
      published: this.#published,
    };
  }

  /** Stops listening and closes every client. */
  close(): Promise<void> {
    this.#listening.close();
    this.#listener?.close();
    this.#listener = undefined;
    for (const conn of [...this.#connections]) conn.close();
    return Promise.resolve();
  }
}
