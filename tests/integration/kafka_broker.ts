/**
 * A one-node Kafka broker for tests, speaking the wire protocol over a real
 * socket: ApiVersions (v0-v2), Metadata (v0-v1, every asked topic exists with
 * one partition led by this node) and Produce (v3, record batches of magic 2,
 * CRC-32C checked, uncompressed). It keeps what producers send, so a test can
 * look at the records a Kafka or KafkaMQTT filter published.
 *
 * @module
 */

import { concatBytes } from "../../filters/concat_bytes.ts";
import { writeAll } from "../../filters/write_all.ts";

/** One record a producer sent. */
export interface KafkaRecord {
  topic: string;
  partition: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: Record<string, string>;
}

/** A running test broker. */
export interface TestKafkaBroker {
  readonly port: number;
  /** Every record received, in order. */
  readonly records: KafkaRecord[];
  /** Client ids seen in request headers. */
  readonly clientIds: Set<string>;
  /** Produce requests answered. */
  readonly produceRequests: number;
  /** Resolves once `count` records arrived; rejects after `timeoutMs`. */
  waitForRecords(count: number, timeoutMs?: number): Promise<KafkaRecord[]>;
  close(): Promise<void>;
}

const API_PRODUCE = 0;
const API_METADATA = 3;
const API_VERSIONS = 18;
const NODE_ID = 1;
const UNSUPPORTED_VERSION = 35;
const CORRUPT_MESSAGE = 2;

/** Starts a broker on 127.0.0.1 (`port` 0: any free port). */
export function startKafkaBroker(port = 0): TestKafkaBroker {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const boundPort = (listener.addr as Deno.NetAddr).port;
  const records: KafkaRecord[] = [];
  const clientIds = new Set<string>();
  const conns = new Set<Deno.Conn>();
  const waiters: (() => void)[] = [];
  let produceRequests = 0;
  const served = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      serve(conn).catch(() => {}).finally(() => {
        conns.delete(conn);
        try {
          conn.close();
        } catch { /* closed */ }
      });
    }
  })();

  async function serve(conn: Deno.Conn): Promise<void> {
    let pending: Uint8Array = new Uint8Array(0);
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return;
      pending = concatBytes([pending, buf.subarray(0, n)]);
      while (pending.length >= 4) {
        const size = new DataView(pending.buffer, pending.byteOffset).getInt32(0);
        if (pending.length < 4 + size) break;
        const reply = answer(new Reader(pending.slice(4, 4 + size)));
        pending = pending.slice(4 + size);
        if (reply !== null) await writeAll(conn, reply);
      }
    }
  }

  function answer(r: Reader): Uint8Array | null {
    const apiKey = r.int16();
    const version = r.int16();
    const correlation = r.int32();
    const clientId = r.nullableString();
    if (clientId !== null) clientIds.add(clientId);
    const w = new Writer();
    w.int32(correlation);
    if (apiKey === API_VERSIONS) {
      // Unknown versions are answered in v0's shape, as Kafka does.
      w.int16(version > 2 ? UNSUPPORTED_VERSION : 0);
      const apis = [[API_PRODUCE, 3, 3], [API_METADATA, 0, 1], [API_VERSIONS, 0, 2]];
      w.int32(apis.length);
      for (const [key, min, max] of apis) w.int16(key).int16(min).int16(max);
      if (version >= 1 && version <= 2) w.int32(0);
    } else if (apiKey === API_METADATA) {
      const count = r.int32();
      const topics: string[] = [];
      for (let i = 0; i < count; i++) topics.push(r.string());
      w.int32(1).int32(NODE_ID).string("127.0.0.1").int32(boundPort);
      if (version >= 1) w.int16(-1).int32(NODE_ID); // no rack; the controller
      w.int32(topics.length);
      for (const topic of topics) {
        w.int16(0).string(topic);
        if (version >= 1) w.int8(0);
        w.int32(1).int16(0).int32(0).int32(NODE_ID).int32(1).int32(NODE_ID).int32(1).int32(NODE_ID);
      }
    } else if (apiKey === API_PRODUCE) {
      produceRequests++;
      r.nullableString(); // transactional id
      const acks = r.int16();
      r.int32(); // timeout
      const results: [string, number, number][] = [];
      const topicCount = r.int32();
      for (let t = 0; t < topicCount; t++) {
        const topic = r.string();
        const partitionCount = r.int32();
        for (let p = 0; p < partitionCount; p++) {
          const partition = r.int32();
          const size = r.int32();
          const batches = new Reader(r.bytes(size));
          let error = 0;
          while (batches.remaining > 0) {
            if (!readBatch(batches, topic, partition, records)) error = CORRUPT_MESSAGE;
          }
          results.push([topic, partition, error]);
        }
      }
      while (waiters.length) waiters.shift()!();
      if (acks === 0) return null;
      w.int32(results.length);
      for (const [topic, partition, error] of results) {
        w.string(topic).int32(1).int32(partition).int16(error).int64(0).int64(-1);
      }
      w.int32(0);
    } else {
      return null;
    }
    return w.framed();
  }

  return {
    port: boundPort,
    records,
    clientIds,
    get produceRequests() {
      return produceRequests;
    },
    async waitForRecords(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (records.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new Error(`the broker has ${records.length} records, not ${count}`);
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 100));
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return records;
    },
    async close() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch { /* closed */ }
      }
      await served.catch(() => {});
    },
  };
}

/** Reads one record batch (magic 2) into `out`; false when it is corrupt. */
function readBatch(r: Reader, topic: string, partition: number, out: KafkaRecord[]): boolean {
  r.int64(); // base offset
  const length = r.int32();
  const batch = new Reader(r.bytes(length));
  batch.int32(); // partition leader epoch
  if (batch.int8() !== 2) return false;
  const crc = batch.uint32();
  if (crc32c(batch.rest()) !== crc) return false;
  const attributes = batch.int16();
  if ((attributes & 7) !== 0) return false; // compressed
  batch.int32(); // last offset delta
  batch.int64(); // first timestamp
  batch.int64(); // max timestamp
  batch.int64(); // producer id
  batch.int16(); // producer epoch
  batch.int32(); // base sequence
  const count = batch.int32();
  for (let i = 0; i < count; i++) {
    batch.varint(); // record length
    batch.int8(); // attributes
    batch.varint(); // timestamp delta
    batch.varint(); // offset delta
    const key = batch.varBytes();
    const value = batch.varBytes();
    const headers: Record<string, string> = {};
    const headerCount = batch.varint();
    for (let h = 0; h < headerCount; h++) {
      const name = new TextDecoder().decode(batch.varBytes() ?? new Uint8Array());
      headers[name] = new TextDecoder().decode(batch.varBytes() ?? new Uint8Array());
    }
    out.push({ topic, partition, key, value, headers });
  }
  return true;
}

class Reader {
  #offset = 0;
  readonly #view: DataView;
  constructor(readonly bytes_: Uint8Array) {
    this.#view = new DataView(bytes_.buffer, bytes_.byteOffset, bytes_.byteLength);
  }
  get remaining(): number {
    return this.bytes_.length - this.#offset;
  }
  int8(): number {
    return this.#view.getInt8(this.#offset++);
  }
  int16(): number {
    const v = this.#view.getInt16(this.#offset);
    this.#offset += 2;
    return v;
  }
  int32(): number {
    const v = this.#view.getInt32(this.#offset);
    this.#offset += 4;
    return v;
  }
  uint32(): number {
    const v = this.#view.getUint32(this.#offset);
    this.#offset += 4;
    return v;
  }
  int64(): bigint {
    const v = this.#view.getBigInt64(this.#offset);
    this.#offset += 8;
    return v;
  }
  bytes(n: number): Uint8Array {
    if (n < 0 || this.#offset + n > this.bytes_.length) throw new RangeError("short message");
    const b = this.bytes_.subarray(this.#offset, this.#offset + n);
    this.#offset += n;
    return b;
  }
  rest(): Uint8Array {
    return this.bytes_.subarray(this.#offset);
  }
  string(): string {
    return new TextDecoder().decode(this.bytes(this.int16()));
  }
  nullableString(): string | null {
    const n = this.int16();
    return n < 0 ? null : new TextDecoder().decode(this.bytes(n));
  }
  /** A zigzag varint, as record batches write them. */
  varint(): number {
    let unsigned = 0;
    let scale = 1;
    for (;;) {
      const byte = this.bytes_[this.#offset++];
      unsigned += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) break;
      scale *= 128;
    }
    return unsigned % 2 === 0 ? unsigned / 2 : -(unsigned + 1) / 2;
  }
  varBytes(): Uint8Array | null {
    const n = this.varint();
    return n < 0 ? null : this.bytes(n).slice();
  }
}

class Writer {
  readonly #parts: number[] = [];
  #push(size: number, put: (v: DataView) => void): this {
    const b = new Uint8Array(size);
    put(new DataView(b.buffer));
    this.#parts.push(...b);
    return this;
  }
  int8(v: number): this {
    return this.#push(1, (d) => d.setInt8(0, v));
  }
  int16(v: number): this {
    return this.#push(2, (d) => d.setInt16(0, v));
  }
  int32(v: number): this {
    return this.#push(4, (d) => d.setInt32(0, v));
  }
  int64(v: number): this {
    return this.#push(8, (d) => d.setBigInt64(0, BigInt(v)));
  }
  string(s: string): this {
    const b = new TextEncoder().encode(s);
    this.int16(b.length);
    this.#parts.push(...b);
    return this;
  }
  framed(): Uint8Array {
    const out = new Uint8Array(4 + this.#parts.length);
    new DataView(out.buffer).setInt32(0, this.#parts.length);
    out.set(this.#parts, 4);
    return out;
  }
}

let crcTable: Uint32Array | undefined;

/** CRC-32C (Castagnoli), the checksum of record batches. */
function crc32c(bytes: Uint8Array): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const b of bytes) crc = crcTable[(crc ^ b) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
