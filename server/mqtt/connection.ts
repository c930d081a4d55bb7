/**
 * One MQTT 3.1.1 client connection of an MQTTProxy: packets are read with
 * `mqtt-packet`'s parser and handled one at a time, in order; writes are
 * queued so packets never interleave. The first packet must be CONNECT,
 * within 10 s of the accept (over TLS, the handshake too); a client silent
 * for 1.5 times its keep-alive is closed.
 *
 * @module
 */

import mqtt from "mqtt-packet";
import { Buffer } from "node:buffer";
import type { MqttPacketType } from "../../filters/mqtt_context.ts";
import type { MqttSession, OutboundMessage, PendingMessage } from "./session.ts";
import { topicFilterProblem, topicNameProblem } from "./topic_filter.ts";
import { formatAddr } from "../httpserver/client.ts";
import { isTlsConn } from "../httpserver/served_connection.ts";
import { socketPass } from "../../filters/native_sockets.ts";
import { concatBytes } from "../../filters/concat_bytes.ts";

/** CONNACK return code for a protocol level this proxy does not speak. */
export const CONNACK_UNACCEPTABLE_PROTOCOL = 1;

/** What a connection asks of its MQTTProxy. */
export interface ConnectionHost {
  /** Handles CONNECT; returns the CONNACK code and, when accepted, the session. */
  connect(conn: MqttConnection, packet: mqtt.IConnectPacket): Promise<ConnectOutcome>;
  /** Runs the rule's pipeline for `type`; says whether to disconnect or drop. */
  runRule(
    conn: MqttConnection,
    type: MqttPacketType,
    fields: { topic?: string; payload?: Uint8Array; qos?: number; topics?: string[] },
  ): Promise<{ disconnect: boolean; drop: boolean }>;
  /** Whether the client's publish limit lets `bytes` more through. */
  allowPublish(conn: MqttConnection, bytes: number): boolean;
  /** A client publish that went through (delivered to subscribers in broker mode). */
  published(message: OutboundMessage): void;
  /** The connection ended (its session stays when persistent). */
  closed(conn: MqttConnection, graceful: boolean): void;
  /** A session's subscriptions changed (a persistent one's are stored). */
  subscriptionsChanged(session: MqttSession): void;
  log: { debug(m: string): void; warn(m: string): void };
}

/** The answer to a CONNECT. */
export interface ConnectOutcome {
  returnCode: number;
  session?: MqttSession;
  sessionPresent?: boolean;
}

const RESEND_MS = 200;
/**
 * Bytes of messages for a subscriber that may wait to be written: a client
 * that reads slower than it is published to (or not at all) would
 * otherwise hold every message in memory. Beyond it, QoS 0 messages are
 * dropped (at most once allows it) and QoS 1 ones wait in the session.
 */
const MAX_UNWRITTEN_BYTES = 4 * 1024 * 1024;
/** How long a connection may stay open without a CONNECT (over TLS, the handshake included). */
const CONNECT_TIMEOUT_MS = 10_000;
/**
 * The longest remaining length a CONNECT can have: MQIsdp's variable header
 * (12 bytes) and five length-prefixed fields of at most 65 535 bytes (client
 * id, will topic, will message, user name, password).
 */
export const MAX_CONNECT_LENGTH = 12 + 5 * (2 + 65_535);

/**
 * What is wrong with the first packet a client sends, from its fixed header
 * `head` (the connection's first bytes, at most 5 needed): not a CONNECT, or
 * longer than any CONNECT. Undefined when it may be a CONNECT, or while too
 * few bytes came to tell. The parser takes a whole packet before it is
 * handled, so without this a client never let in could make the node hold up
 * to 256 MB for each of its connections.
 */
export function firstPacketProblem(head: Uint8Array): string | undefined {
  if (head.length === 0) return undefined;
  if (head[0] >> 4 !== 1) return `packet type ${head[0] >> 4} before CONNECT`;
  let length = 0;
  for (let i = 1; i < head.length && i <= 4; i++) {
    length += (head[i] & 0x7f) * 128 ** (i - 1);
    if (length > MAX_CONNECT_LENGTH) return `CONNECT of ${length} bytes or more`;
    if ((head[i] & 0x80) === 0) return undefined;
  }
  return undefined;
}

/** A client's connection. */
export class MqttConnection {
  readonly remoteAddr: string;
  clientID = "";
  username = "";
  session: MqttSession | undefined;
  #will: mqtt.IConnectPacket["will"];
  readonly #socket: Deno.Conn;
  /** Whether the TLS handshake has ended (done or failed); plain TCP has none to wait for. */
  #handshakeSettled: boolean;
  readonly #host: ConnectionHost;
  #writing: Promise<void> = Promise.resolve();
  /** Bytes queued for writing and not yet written. */
  #unwritten = 0;
  /** The session's QoS 1 messages written on this connection (the others wait for room). */
  readonly #written = new WeakSet<PendingMessage>();
  /** Whether QoS 1 messages of the session wait for room to be written. */
  #holding = false;
  #handling: Promise<void> = Promise.resolve();
  /** Whether a packet is being handled (its pipeline may take a while). */
  #handlingPacket = false;
  #keepAliveMs = 0;
  #lastSeen = Date.now();
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly #opened = Date.now();
  #closed = false;
  #graceful = false;

  constructor(socket: Deno.Conn, host: ConnectionHost) {
    this.#socket = socket;
    this.#handshakeSettled = !isTlsConn(socket);
    this.#host = host;
    this.remoteAddr = formatAddr(socket.remoteAddr as Deno.NetAddr);
  }

  /** Reads and handles packets until the connection ends. */
  async serve(): Promise<void> {
    const parser = mqtt.parser({ protocolVersion: 4 });
    let failed = false;
    parser.on("packet", (packet: mqtt.Packet) => {
      this.#handling = this.#handling
        .then(async () => {
          if (this.#closed) return;
          this.#handlingPacket = true;
          try {
            await this.#handle(packet);
          } finally {
            this.#handlingPacket = false;
            // The keep-alive is the client's silence, not the time its packets waited for
            // pipelines (reading waits for them too): it counts from here.
            this.#lastSeen = Date.now();
          }
        })
        .catch((e) => {
          this.#host.log.warn(`${this.remoteAddr}: ${(e as Error)?.stack ?? e}`);
          this.close();
        });
    });
    parser.on("error", (e: Error) => {
      failed = true;
      this.#host.log.debug(`${this.remoteAddr}: malformed packet: ${e.message}`);
      // A CONNECT of a protocol level no MQTT has: CONNACK 1 before the close (MQTT-3.1.2-2).
      if (this.session === undefined && e.message === "Invalid protocol version") {
        this.#send({
          cmd: "connack",
          returnCode: CONNACK_UNACCEPTABLE_PROTOCOL,
          sessionPresent: false,
        });
      }
    });
    this.#timer = setInterval(() => this.#tick(), RESEND_MS);
    Deno.unrefTimer(this.#timer as unknown as number);
    if (isTlsConn(this.#socket)) {
      // The CONNECT deadline covers the handshake: a client that sends no ClientHello is closed too.
      try {
        await this.#socket.handshake();
      } catch (e) {
        if (!this.#closed) {
          this.#host.log.debug(`${this.remoteAddr}: TLS handshake: ${(e as Error).message}`);
        }
        this.#handshakeSettled = true;
        return this.close();
      }
      this.#handshakeSettled = true;
      if (this.#closed) return;
    }
    // The first packet's fixed header, kept until it is known to be a CONNECT of a legal length.
    let head: Uint8Array | undefined = new Uint8Array(0);
    try {
      for await (const chunk of this.#socket.readable) {
        this.#lastSeen = Date.now();
        if (head !== undefined) {
          head = concatBytes([head, (chunk as Uint8Array).subarray(0, 5 - head.length)]);
          const problem = firstPacketProblem(head);
          if (problem !== undefined) {
            this.#host.log.debug(`${this.remoteAddr}: ${problem}, closing`);
            break;
          }
          // Decided once the length's last byte (high bit clear) or five bytes came.
          if (head.length >= 5 || head.subarray(1).some((b) => (b & 0x80) === 0)) head = undefined;
        }
        parser.parse(chunk as unknown as Parameters<typeof parser.parse>[0]);
        // Leaving the loop cancels the readable, which closes the socket: what is being written goes first.
        if (failed) {
          await this.#writing;
          break;
        }
        // Back-pressure: a client sending faster than its packets are handled waits.
        await this.#handling;
        if (this.#closed) break;
      }
    } catch { /* reset by the peer, or closed by us */ }
    await this.#handling;
    this.close();
  }

  async #handle(packet: mqtt.Packet): Promise<void> {
    if (this.session === undefined && packet.cmd !== "connect") return this.close();
    const malformed = packetProblem(packet);
    if (malformed !== undefined) {
      this.#host.log.debug(`${this.remoteAddr}: ${packet.cmd} ${malformed}, closing`);
      return this.close();
    }
    switch (packet.cmd) {
      case "connect":
        return await this.#connect(packet);
      case "publish":
        return await this.#publish(packet);
      case "puback":
        this.session!.acknowledge(packet.messageId!);
        return;
      case "pubrel":
        // Answered whether or not the id is known: the client may be finishing an earlier try.
        this.session!.unreleased.delete(packet.messageId!);
        return this.#send({ cmd: "pubcomp", messageId: packet.messageId });
      case "subscribe":
        return await this.#subscribe(packet);
      case "unsubscribe":
        return await this.#unsubscribe(packet);
      case "pingreq":
        return this.#send({ cmd: "pingresp" });
      case "disconnect":
        this.#graceful = true;
        return this.close();
      default:
        // PUBREC and PUBCOMP (no QoS 2 is sent to clients) and anything else a client may not send.
        this.#host.log.debug(`${this.remoteAddr}: unexpected ${packet.cmd}, closing`);
        return this.close();
    }
  }

  async #connect(packet: mqtt.IConnectPacket): Promise<void> {
    // A second CONNECT is a protocol violation (MQTT 3.1.1 section 3.1).
    if (this.session !== undefined) return this.close();
    const willProblem = packet.will && topicNameProblem(packet.will.topic);
    if (willProblem) {
      this.#host.log.debug(
        `${this.remoteAddr}: will topic ${
          JSON.stringify(packet.will!.topic)
        } ${willProblem}, closing`,
      );
      return this.close();
    }
    // The parser takes the two will QoS bits as they come; 3 is malformed (MQTT-3.1.2-14).
    if ((packet.will?.qos ?? 0) > 2) {
      this.#host.log.debug(
        `${this.remoteAddr}: CONNECT with will QoS ${packet.will!.qos}, closing`,
      );
      return this.close();
    }
    this.clientID = packet.clientId;
    this.username = packet.username ?? "";
    this.#will = packet.will;
    this.#keepAliveMs = (packet.keepalive ?? 0) * 1500;
    const outcome = await this.#host.connect(this, packet);
    this.#send({
      cmd: "connack",
      returnCode: outcome.returnCode,
      sessionPresent: !!outcome.sessionPresent,
    });
    if (outcome.returnCode !== 0 || !outcome.session) {
      this.#will = undefined;
      return this.close();
    }
    this.session = outcome.session;
    // What waited for this client while it was away.
    this.#sendUnwritten();
  }

  async #publish(packet: mqtt.IPublishPacket): Promise<void> {
    // A topic name a subscription filter could match by accident (a/#) is a protocol error.
    const problem = topicNameProblem(packet.topic);
    if (problem !== undefined) {
      this.#host.log.debug(
        `${this.remoteAddr}: PUBLISH topic ${JSON.stringify(packet.topic)} ${problem}, closing`,
      );
      return this.close();
    }
    // QoS 2 (MQTT 4.3.3): a message taken and not yet released is acknowledged again, not rerun.
    const unreleased = this.session!.unreleased;
    if (packet.qos === 2 && unreleased.has(packet.messageId!)) {
      return this.#send({ cmd: "pubrec", messageId: packet.messageId });
    }
    const payload = toBytes(packet.payload);
    // Easegress counts a PUBLISH's remaining length plus 8 bytes of fixed header, as for CONNECT.
    if (!this.#host.allowPublish(this, (packet.length ?? payload.length) + 8)) return;
    const outcome = await this.#host.runRule(this, "Publish", {
      topic: packet.topic,
      payload,
      qos: packet.qos,
    });
    if (outcome.disconnect) return this.close();
    if (outcome.drop) return;
    if (packet.qos === 1) this.#send({ cmd: "puback", messageId: packet.messageId });
    if (packet.qos === 2) {
      unreleased.add(packet.messageId!);
      this.#send({ cmd: "pubrec", messageId: packet.messageId });
    }
    // Subscribers get at most QoS 1, as this proxy grants.
    this.#host.published({ topic: packet.topic, payload, qos: packet.qos === 0 ? 0 : 1 });
  }

  async #subscribe(packet: mqtt.ISubscribePacket): Promise<void> {
    // Protocol violations close the connection unanswered (MQTT 3.1.1 section 3.8.3): a SUBACK
    // could not even be written for them.
    if (packet.subscriptions.length === 0) {
      this.#host.log.debug(`${this.remoteAddr}: SUBSCRIBE without a topic filter, closing`);
      return this.close();
    }
    const badQos = packet.subscriptions.find((s) => !(s.qos >= 0 && s.qos <= 2));
    if (badQos) {
      this.#host.log.debug(
        `${this.remoteAddr}: SUBSCRIBE to ${badQos.topic} asks for QoS ${badQos.qos}, closing`,
      );
      return this.close();
    }
    const topics = packet.subscriptions.map((s) => s.topic);
    const outcome = await this.#host.runRule(this, "Subscribe", { topics });
    if (outcome.disconnect) return this.close();
    if (outcome.drop) return;
    const granted = packet.subscriptions.map((s) => {
      // Malformed filters get 0x80 (failure); QoS 2 requests get 1, the most this proxy gives.
      if (topicFilterProblem(s.topic) !== undefined) return 0x80;
      const qos = Math.min(s.qos, 1) as 0 | 1;
      this.session!.subscriptions.set(s.topic, qos);
      return qos;
    });
    this.#host.subscriptionsChanged(this.session!);
    this.#send({ cmd: "suback", messageId: packet.messageId, granted });
  }

  async #unsubscribe(packet: mqtt.IUnsubscribePacket): Promise<void> {
    if (packet.unsubscriptions.length === 0) {
      this.#host.log.debug(`${this.remoteAddr}: UNSUBSCRIBE without a topic filter, closing`);
      return this.close();
    }
    const outcome = await this.#host.runRule(this, "Unsubscribe", {
      topics: packet.unsubscriptions,
    });
    if (outcome.disconnect) return this.close();
    if (outcome.drop) return;
    for (const topic of packet.unsubscriptions) this.session!.subscriptions.delete(topic);
    this.#host.subscriptionsChanged(this.session!);
    this.#send({ cmd: "unsuback", messageId: packet.messageId, granted: [] });
  }

  /** Sends a message for a subscriber: QoS 1 ones are already queued in the session. */
  deliver(message: OutboundMessage | PendingMessage): void {
    const room = this.#unwritten < MAX_UNWRITTEN_BYTES;
    if (!("packetId" in message)) {
      if (room) this.#sendPublish(message, false);
      return;
    }
    // A QoS 1 message stays in the session until there is room, and goes after those held before.
    if (this.#holding) this.#sendUnwritten();
    else if (room) this.#sendPending(message);
    else this.#holding = true;
  }

  /** Sends the session's QoS 1 messages not yet written on this connection, while there is room. */
  #sendUnwritten(): void {
    this.#holding = false;
    for (const pending of this.session?.pending ?? []) {
      if (this.#unwritten >= MAX_UNWRITTEN_BYTES) {
        this.#holding = true;
        return;
      }
      if (!this.#written.has(pending)) this.#sendPending(pending);
    }
  }

  /** Sends a QoS 1 message, flagged DUP when the client may have had it already (MQTT-3.3.1-1). */
  #sendPending(message: PendingMessage): void {
    const dup = message.sentAt !== 0;
    message.sentAt = Date.now();
    this.#written.add(message);
    this.#sendPublish(message, dup);
  }

  #sendPublish(message: OutboundMessage | PendingMessage, dup: boolean): void {
    this.#send({
      cmd: "publish",
      topic: message.topic,
      // The packet writer copies Buffers only.
      payload: Buffer.from(
        message.payload.buffer,
        message.payload.byteOffset,
        message.payload.length,
      ),
      qos: message.qos,
      dup,
      retain: false,
      ...("packetId" in message ? { messageId: message.packetId } : {}),
    } as mqtt.IPublishPacket);
  }

  /** The will message, for a connection that ended without DISCONNECT. */
  get will(): OutboundMessage | undefined {
    if (this.#graceful || !this.#will) return undefined;
    const qos = Math.min(this.#will.qos ?? 0, 1) as 0 | 1;
    return { topic: this.#will.topic, payload: toBytes(this.#will.payload), qos };
  }

  #send(packet: mqtt.Packet): void {
    if (this.#closed) return;
    let bytes: Uint8Array;
    try {
      bytes = mqtt.generate(packet) as unknown as Uint8Array;
    } catch (e) {
      this.#host.log.warn(
        `${this.remoteAddr}: cannot write ${packet.cmd}: ${(e as Error).message}`,
      );
      return this.close();
    }
    this.#unwritten += bytes.length;
    this.#writing = this.#writing.then(async () => {
      for (let at = 0; at < bytes.length;) at += await this.#socket.write(bytes.subarray(at));
    }).catch(() => this.close()).finally(() => this.#unwritten -= bytes.length);
  }

  /**
   * Keep-alive deadline; when the client keeps up, the oldest unacknowledged
   * message sent again when it is due, and the ones held for room written.
   */
  #tick(): void {
    if (this.session === undefined && Date.now() - this.#opened > CONNECT_TIMEOUT_MS) {
      this.#host.log.debug(
        `${this.remoteAddr}: no ${this.#handshakeSettled ? "CONNECT" : "TLS handshake"} in time`,
      );
      this.close();
      return;
    }
    if (
      this.#keepAliveMs > 0 && !this.#handlingPacket &&
      Date.now() - this.#lastSeen > this.#keepAliveMs
    ) {
      this.#host.log.debug(`${this.remoteAddr}: keep-alive expired`);
      this.close();
      return;
    }
    if (this.#unwritten >= MAX_UNWRITTEN_BYTES) return;
    // Only once it has had the whole interval to be acknowledged: the tick is not the send.
    const oldest = this.session?.pending[0];
    if (oldest && Date.now() - oldest.sentAt >= RESEND_MS) this.#sendPending(oldest);
    if (this.#holding) this.#sendUnwritten();
  }

  /** Whether the connection has ended. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Ends the connection (idempotent); the proxy hears of it once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#writing.finally(() => {
      // Closing a TLS connection whose handshake is pending leaves its TCP socket to the
      // runtime's handshake, which waits for the client for as long as it stays silent.
      const handshaking = !this.#handshakeSettled;
      try {
        this.#socket.close();
      } catch { /* closed already */ }
      if (handshaking) socketPass.queue(this.#socket.localAddr, this.#socket.remoteAddr);
    });
    this.#host.closed(this, this.#graceful);
  }
}

/**
 * What makes `packet` malformed where the parser lets it through: a packet
 * identifier of 0 (MQTT-2.3.1-1), a QoS 0 PUBLISH flagged DUP (MQTT-3.3.1-2).
 */
function packetProblem(packet: mqtt.Packet): string | undefined {
  switch (packet.cmd) {
    case "publish":
      if (packet.qos === 0) return packet.dup ? "of QoS 0 flagged DUP" : undefined;
      return packet.messageId === 0 ? "with packet identifier 0" : undefined;
    case "subscribe":
    case "unsubscribe":
    case "puback":
    case "pubrel":
      return packet.messageId === 0 ? "with packet identifier 0" : undefined;
  }
  return undefined;
}

function toBytes(payload: string | Uint8Array | undefined): Uint8Array {
  if (payload === undefined) return new Uint8Array();
  return typeof payload === "string" ? new TextEncoder().encode(payload) : new Uint8Array(payload);
}
