/**
 * An MQTT client's session: its subscriptions, the QoS 1 messages sent
 * to it and not yet acknowledged, and the ids of its QoS 2 messages not yet
 * released. A session outlives its connection when the client connected
 * with CleanSession 0, so a client that comes back gets what was published
 * to it meanwhile.
 *
 * @module
 */

import { topicMatches } from "./topic_filter.ts";

/** A message for subscribers. */
export interface OutboundMessage {
  topic: string;
  payload: Uint8Array;
  qos: 0 | 1;
}

/** A QoS 1 message waiting for its PUBACK. */
export interface PendingMessage extends OutboundMessage {
  packetId: number;
  /** When it was last sent to the client (ms since the epoch; 0 while it never was). */
  sentAt: number;
}

/** Messages kept for a disconnected session: beyond this, the oldest go. */
const MAX_PENDING = 1000;

/** One client's session. */
export class MqttSession {
  readonly clientID: string;
  /** Kept after the connection ends (CleanSession 0). */
  persistent: boolean;
  /** Topic filter -> granted QoS. */
  readonly subscriptions = new Map<string, 0 | 1>();
  /** QoS 1 messages not acknowledged yet, oldest first. */
  readonly pending: PendingMessage[] = [];
  /**
   * Packet ids of the client's QoS 2 PUBLISHes taken and not yet released
   * (PUBREL): the same id again is the same message, not run twice.
   */
  readonly unreleased = new Set<number>();
  /** The packet ids of `pending`: one still waiting for its PUBACK is not given out again. */
  readonly #inFlight = new Set<number>();
  #nextPacketId = 1;

  constructor(clientID: string, persistent: boolean) {
    this.clientID = clientID;
    this.persistent = persistent;
  }

  /** The QoS a message on `topic` is delivered with, or undefined when no subscription matches. */
  deliveryQos(topic: string, qos: 0 | 1): 0 | 1 | undefined {
    let best: 0 | 1 | undefined;
    for (const [filter, granted] of this.subscriptions) {
      if (!topicMatches(filter, topic)) continue;
      const effective = Math.min(granted, qos) as 0 | 1;
      if (best === undefined || effective > best) best = effective;
    }
    return best;
  }

  /** Queues a QoS 1 message; returns it with its packet id. */
  queue(message: OutboundMessage): PendingMessage {
    const pending = { ...message, packetId: this.#packetId(), sentAt: 0 };
    this.pending.push(pending);
    this.#inFlight.add(pending.packetId);
    if (this.pending.length > MAX_PENDING) this.#inFlight.delete(this.pending.shift()!.packetId);
    return pending;
  }

  /** Drops the message a PUBACK acknowledged. */
  acknowledge(packetId: number): void {
    const at = this.pending.findIndex((p) => p.packetId === packetId);
    if (at >= 0) this.#inFlight.delete(this.pending.splice(at, 1)[0].packetId);
  }

  /**
   * The next packet id not in use (MQTT-2.3.1-2): after 65 535 messages the
   * ids come round again, past one a client has left unacknowledged, whose
   * PUBACK would otherwise have acknowledged the wrong message.
   */
  #packetId(): number {
    let id;
    do {
      id = this.#nextPacketId;
      this.#nextPacketId = id === 65535 ? 1 : id + 1;
    } while (this.#inFlight.has(id));
    return id;
  }
}
