/**
 * What a pipeline run for an MQTTProxy packet sees: a {@linkcode Context}
 * (for `data` and namespaces) carrying the packet, and the two answers a
 * filter can give besides its result: close the client, or drop the packet
 * (no acknowledgement).
 *
 * @module
 */

import { Context } from "./context.ts";
import { hostOfAddr } from "./ip_address.ts";

/** The MQTT packet types a rule can send through a pipeline. */
export type MqttPacketType = "Connect" | "Disconnect" | "Publish" | "Subscribe" | "Unsubscribe";

/** The MQTT client a packet came from. */
export interface MqttClientInfo {
  readonly clientID: string;
  readonly username: string;
  readonly remoteAddr: string;
}

/** One packet of an MQTT client, as the pipeline's filters see it. */
export interface MqttPacket {
  readonly type: MqttPacketType;
  readonly client: MqttClientInfo;
  /** Connect: the password the client gave (empty without one). */
  readonly password?: Uint8Array;
  /** Publish: the topic, payload and QoS; Subscribe/Unsubscribe: the topics. */
  readonly topic?: string;
  readonly payload?: Uint8Array;
  readonly qos?: number;
  readonly topics?: readonly string[];
}

/** A pipeline context for an MQTT packet. */
export class MqttContext extends Context {
  readonly packet: MqttPacket;
  /** Set by a filter: the client is disconnected (for Connect: refused, CONNACK 5). */
  disconnect = false;
  /** Set by a filter: the packet is not acknowledged. */
  drop = false;

  constructor(packet: MqttPacket) {
    super(undefined, {
      remoteAddr: packet.client.remoteAddr,
      realIP: hostOfAddr(packet.client.remoteAddr),
    });
    this.packet = packet;
  }
}
