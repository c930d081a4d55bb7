/**
 * Helpers for HTTP/3 integration tests: a throwaway self-signed certificate,
 * ngtcp2's `gtlsclient` as an independent client, and a raw HTTP/3 client on
 * `Deno.connectQuic` for sending malformed input.
 *
 * @module
 */

import {
  encodeFrame,
  encodeSettingsFrame,
  FRAME,
  STREAM_TYPE,
} from "../../../server/http3/frames.ts";
import { QpackDecoder } from "../../../server/http3/qpack_decoder.ts";
import { QpackEncoder } from "../../../server/http3/qpack_encoder.ts";
import { StreamReader } from "../../../server/http3/stream_reader.ts";
import { makeSelfSignedCert } from "../../../tools/self_signed_cert.ts";

/** A self-signed certificate for 127.0.0.1 / localhost. */
export interface TestCert {
  cert: string;
  key: string;
}

let cachedCert: Promise<TestCert> | null = null;

/** Makes (once per test file) a self-signed certificate for localhost and 127.0.0.1. */
export function testCert(): Promise<TestCert> {
  cachedCert ??= (async () => {
    const made = await makeSelfSignedCert({ names: ["localhost"], ipAddresses: ["127.0.0.1"] });
    await Deno.remove(made.dir, { recursive: true });
    return { cert: made.cert, key: made.key };
  })();
  return cachedCert;
}

/** Output of one command run. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command; a missing binary fails with the Debian package to install. */
export async function run(
  command: string,
  args: string[],
  debianPackage: string,
): Promise<RunResult> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(`${command} not found: install the Debian package ${debianPackage}`);
    }
    throw error;
  }
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** What gtlsclient reported. */
export interface GtlsResult extends RunResult {
  /** `:status` of each response, by stream ID. */
  statuses: Map<number, string>;
}

/**
 * Runs ngtcp2's gtlsclient against 127.0.0.1:`port` for `paths`. Debug
 * output is kept (minus packet dumps) so response statuses can be read.
 */
export async function gtlsclient(
  port: number,
  paths: string[],
  extra: string[] = [],
): Promise<GtlsResult> {
  const args = [
    "--no-quic-dump",
    "--no-http-dump",
    "--exit-on-all-streams-close",
    "--timeout=10s",
    ...extra,
    "127.0.0.1",
    String(port),
    ...paths.map((p) => `https://127.0.0.1:${port}${p}`),
  ];
  const result = await run("gtlsclient", args, "ngtcp2-client");
  const statuses = new Map<number, string>();
  for (const match of result.stderr.matchAll(/http: stream 0x([0-9a-f]+) \[:status: (\d+)\]/g)) {
    statuses.set(parseInt(match[1], 16), match[2]);
  }
  for (const match of result.stdout.matchAll(/http: stream 0x([0-9a-f]+) \[:status: (\d+)\]/g)) {
    statuses.set(parseInt(match[1], 16), match[2]);
  }
  return { ...result, statuses };
}

/** A response read by {@linkcode RawH3Client}. */
export interface RawResponse {
  status: string;
  headers: Map<string, string>;
  body: string;
}

/** A minimal HTTP/3 client that sends whatever bytes a test gives it. */
export class RawH3Client {
  readonly conn: Deno.QuicConn;
  readonly #endpoint: Deno.QuicEndpoint;
  readonly encoder = new QpackEncoder();
  readonly #decoder = new QpackDecoder();
  /** Resolves with the close info when the server closes the connection. */
  readonly closed: Promise<Deno.QuicCloseInfo>;

  private constructor(endpoint: Deno.QuicEndpoint, conn: Deno.QuicConn) {
    this.#endpoint = endpoint;
    this.conn = conn;
    this.closed = conn.closed;
  }

  /** Connects to 127.0.0.1:`port`, trusting `cert`. */
  static async connect(port: number, cert: string): Promise<RawH3Client> {
    const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
    const conn = await Deno.connectQuic({
      endpoint,
      hostname: "127.0.0.1",
      port,
      serverName: "localhost",
      caCerts: [cert],
      alpnProtocols: ["h3"],
    });
    return new RawH3Client(endpoint, conn);
  }

  /**
   * Opened unidirectional streams, kept referenced: Deno finishes a send
   * stream whose WritableStream is garbage-collected.
   */
  readonly #uniStreams: WritableStreamDefaultWriter<Uint8Array>[] = [];

  /** Opens a unidirectional stream and writes `bytes` on it (left open). */
  async openUniStream(bytes: Uint8Array): Promise<WritableStreamDefaultWriter<Uint8Array>> {
    const writer = (await this.conn.createUnidirectionalStream()).getWriter();
    this.#uniStreams.push(writer);
    await writer.write(bytes);
    return writer;
  }

  /** Opens our control stream with a SETTINGS frame (empty by default), as a client must. */
  openControlStream(
    settings: ReadonlyArray<readonly [number, number]> = [],
  ): Promise<WritableStreamDefaultWriter<Uint8Array>> {
    return this.openUniStream(
      new Uint8Array([STREAM_TYPE.CONTROL, ...encodeSettingsFrame(settings)]),
    );
  }

  /** A HEADERS frame for `fields` (flat name/value list), encoded with static QPACK. */
  headersFrame(fields: string[]): Uint8Array {
    return encodeFrame(FRAME.HEADERS, this.encoder.encodeFieldSection(fields));
  }

  /** Sends `bytes` on a new request stream, finishes it, and reads the raw reply. */
  async exchange(bytes: Uint8Array): Promise<Uint8Array[]> {
    const stream = await this.conn.createBidirectionalStream();
    const writer = stream.writable.getWriter();
    await writer.write(bytes);
    await writer.close();
    const chunks: Uint8Array[] = [];
    for await (const chunk of stream.readable) chunks.push(chunk);
    return chunks;
  }

  /** Sends `bytes` as a request and parses the HEADERS + DATA reply. */
  async request(bytes: Uint8Array): Promise<RawResponse> {
    const chunks = await this.exchange(bytes);
    const reader = new StreamReader(ReadableStream.from(chunks));
    let status = "";
    const headers = new Map<string, string>();
    let body = "";
    const text = new TextDecoder();
    while (await reader.readFrameHeader()) {
      const payload = await reader.readExact(reader.frameLength);
      if (reader.frameType === FRAME.HEADERS && status === "") {
        const fields = this.#decoder.decodeFieldSection(payload, 0);
        for (let i = 0; i < fields.length; i += 2) {
          if (fields[i] === ":status") status = fields[i + 1];
          else headers.set(fields[i], fields[i + 1]);
        }
      } else if (reader.frameType === FRAME.DATA) {
        body += text.decode(payload, { stream: true });
      }
    }
    return { status, headers, body };
  }

  /** Closes the connection and the local endpoint. */
  close(): void {
    try {
      this.conn.close({ closeCode: 0x100, reason: "" });
    } catch {
      // Already closed by the server.
    }
    this.#endpoint.close();
  }
}

/** A GET request's fields for `path`. */
export function getFields(path: string, extra: string[] = []): string[] {
  return [":method", "GET", ":scheme", "https", ":authority", "localhost", ":path", path, ...extra];
}

/** Resolves with `promise`'s value, or rejects after `ms` so a broken test cannot hang. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
