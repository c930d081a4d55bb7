/**
 * An asynchronous Kafka producer for the Kafka and KafkaMQTT filters, as
 * Easegress's sarama AsyncProducer: a request hands its message over and goes
 * on, messages are sent in batches (acks from the partition leader), and a
 * batch that fails after the client's retries is logged and dropped. The
 * backlog is bounded: once it is full, a request waits for room, as a full
 * sarama input channel makes it wait.
 *
 * The client is kafkajs, imported on first send: like any npm package it
 * brings in the runtime's Node compatibility layer, which nodes without these
 * filters never need.
 *
 * @module
 */

import type * as KafkaJS from "kafkajs";
import type { Logger } from "../filter.ts";
import { waitUntil } from "../sleep.ts";

/** One message to publish. */
export interface KafkaMessage {
  readonly topic: string;
  readonly value: Uint8Array;
  readonly headers?: Readonly<Record<string, string>>;
}

/** What a producer reports in its filter's status. */
export interface KafkaProducerStatus {
  /** Messages the broker acknowledged. */
  messagesSent: number;
  /** Messages dropped after failed sends. */
  messagesFailed: number;
  /** Messages waiting to be sent. */
  messagesPending: number;
  /** The last send's error, empty once a send succeeded. */
  lastError: string;
}

/** Messages waiting before a request waits for room. */
const MAX_BACKLOG_MESSAGES = 4096;
/** Bytes of message values waiting before a request waits for room. */
const MAX_BACKLOG_BYTES = 16 * 1024 * 1024;
/** Messages in one produce request. */
const MAX_BATCH_MESSAGES = 512;
/** Value bytes in one produce request (Kafka's default message.max.bytes is about 1 MB). */
const MAX_BATCH_BYTES = 900 * 1024;
/** How long a closing producer tries to send what is still queued. */
const CLOSE_FLUSH_MS = 5_000;
/** The shortest gap between two logged send failures. */
const ERROR_LOG_INTERVAL_MS = 10_000;

type NodeProcess = typeof import("node:process");

interface Client {
  module: typeof KafkaJS;
  Buffer: typeof import("node:buffer").Buffer;
}

let client: Promise<Client> | undefined;

/** kafkajs and Node's Buffer (kafkajs sends a Uint8Array's text, not its bytes). */
function loadClient(): Promise<Client> {
  return client ??= (async () => {
    quietNegativeTimeouts((await import("node:process")).default);
    const [module, buffer] = await Promise.all([import("kafkajs"), import("node:buffer")]);
    return { module, Buffer: buffer.Buffer };
  })();
}

/**
 * kafkajs schedules its throttle check with a negative delay before any
 * throttling, which the runtime's Node timers answer with a warning on the
 * process's stderr: nothing is wrong, so that one warning type is dropped.
 */
function quietNegativeTimeouts(process: NodeProcess): void {
  const emit = process.emitWarning;
  process.emitWarning = function (warning: string | Error, ...rest: unknown[]) {
    const option = rest[0];
    const type = typeof option === "string"
      ? option
      : (option as { type?: string } | undefined)?.type;
    if (type === "TimeoutNegativeWarning") return;
    if (warning instanceof Error && warning.name === "TimeoutNegativeWarning") return;
    (emit as (...args: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
}

/** A producer publishing to the Kafka cluster at `brokers`. */
export class KafkaProducer {
  readonly #brokers: string[];
  readonly #clientId: string;
  readonly #log: Logger;
  #queue: KafkaMessage[] = [];
  #queuedBytes = 0;
  #flushing: Promise<void> | undefined;
  #producer: KafkaJS.Producer | undefined;
  #waiters: (() => void)[] = [];
  #closed = false;
  #sent = 0;
  #failed = 0;
  #error = "";
  #lastErrorLog = -Infinity;
  #unloggedFailures = 0;

  /** `clientId` is what the broker sees (Easegress uses the filter's name). */
  constructor(brokers: readonly string[], clientId: string, log: Logger) {
    this.#brokers = [...brokers];
    this.#clientId = clientId;
    this.#log = log;
  }

  /**
   * Queues `message`; returns a promise only when the backlog is full, which
   * settles once there is room again.
   */
  send(message: KafkaMessage): void | Promise<void> {
    if (this.#closed) {
      this.#fail(1, "the producer is closed");
      return;
    }
    this.#queue.push(message);
    this.#queuedBytes += message.value.byteLength;
    this.#flushing ??= this.#flush();
    if (this.#queue.length > MAX_BACKLOG_MESSAGES || this.#queuedBytes > MAX_BACKLOG_BYTES) {
      return new Promise((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Counts for the filter's status. */
  status(): KafkaProducerStatus {
    return {
      messagesSent: this.#sent,
      messagesFailed: this.#failed,
      messagesPending: this.#queue.length,
      lastError: this.#error,
    };
  }

  /** Sends what is queued (for at most a few seconds), then disconnects. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const flushing = this.#flushing;
    if (flushing !== undefined) {
      await waitUntil(flushing, Date.now() + CLOSE_FLUSH_MS);
    }
    if (this.#queue.length > 0) {
      this.#fail(this.#queue.length, "the producer closed before they were sent");
      this.#queue = [];
      this.#queuedBytes = 0;
    }
    this.#wakeWaiters();
    const producer = this.#producer;
    this.#producer = undefined;
    await producer?.disconnect().catch(() => {});
  }

  async #flush(): Promise<void> {
    // Messages queued by the code running now go out in the first batch too.
    await null;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#takeBatch();
        try {
          const { producer, Buffer } = await this.#connected();
          await producer.sendBatch({ acks: 1, topicMessages: topicMessages(batch, Buffer) });
          this.#sent += batch.length;
          this.#error = "";
        } catch (e) {
          // A producer that failed may hold a broken connection: the next batch starts afresh.
          const producer = this.#producer;
          this.#producer = undefined;
          producer?.disconnect().catch(() => {});
          this.#fail(batch.length, e instanceof Error ? e.message : String(e));
        }
        this.#wakeWaiters();
      }
    } finally {
      this.#flushing = undefined;
    }
  }

  #takeBatch(): KafkaMessage[] {
    let count = 0;
    let bytes = 0;
    const queue = this.#queue;
    while (count < queue.length && count < MAX_BATCH_MESSAGES) {
      const size = queue[count].value.byteLength;
      if (count > 0 && bytes + size > MAX_BATCH_BYTES) break;
      bytes += size;
      count++;
    }
    this.#queuedBytes -= bytes;
    return queue.splice(0, count);
  }

  async #connected(): Promise<{ producer: KafkaJS.Producer; Buffer: Client["Buffer"] }> {
    const { module, Buffer } = await loadClient();
    if (this.#producer === undefined) {
      const kafka = new module.Kafka({
        clientId: this.#clientId,
        brokers: this.#brokers,
        // Send failures are logged here, once per batch, not per retry.
        logLevel: module.logLevel.NOTHING,
        connectionTimeout: 3_000,
        requestTimeout: 10_000,
        retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1_000 },
      });
      const producer = kafka.producer({
        createPartitioner: module.Partitioners.DefaultPartitioner,
        allowAutoTopicCreation: true,
      });
      this.#producer = producer;
      await producer.connect();
    }
    return { producer: this.#producer, Buffer };
  }

  #fail(count: number, reason: string): void {
    this.#failed += count;
    this.#error = reason;
    this.#unloggedFailures += count;
    const now = Date.now();
    if (now - this.#lastErrorLog < ERROR_LOG_INTERVAL_MS) return;
    this.#lastErrorLog = now;
    this.#log.error(
      `kafka producer (${
        this.#brokers.join(",")
      }): ${this.#unloggedFailures} message(s) dropped: ${reason}`,
    );
    this.#unloggedFailures = 0;
  }

  #wakeWaiters(): void {
    if (this.#queue.length > MAX_BACKLOG_MESSAGES && !this.#closed) return;
    if (this.#queuedBytes > MAX_BACKLOG_BYTES && !this.#closed) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

/** `batch` grouped by topic, in kafkajs's shape. */
function topicMessages(
  batch: readonly KafkaMessage[],
  Buffer: Client["Buffer"],
): KafkaJS.TopicMessages[] {
  const byTopic = new Map<string, KafkaJS.Message[]>();
  for (const { topic, value, headers } of batch) {
    let messages = byTopic.get(topic);
    if (messages === undefined) byTopic.set(topic, messages = []);
    messages.push({
      value: Buffer.from(value.buffer, value.byteOffset, value.byteLength),
      headers: headers === undefined ? undefined : { ...headers },
    });
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}
