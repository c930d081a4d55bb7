/**
 * Whether an HTTPServer's HTTP/3 listener is serving, as every data plane
 * of the node sees it: one plane serves QUIC for a port (UDP ports are not
 * shared), and each advertises HTTP/3 in `Alt-Svc` only while it does, so
 * clients are not sent to a UDP port that could not be bound.
 *
 * @module
 */

import type { SharedRegions } from "../../filters/shared_regions.ts";

/** The HTTP/3 state of one HTTPServer. */
export interface Http3Presence {
  /** Whether HTTP/3 is served now. */
  readonly serving: boolean;
  /** Records whether it is: the plane that serves QUIC tells, at each try to bind. */
  set(serving: boolean): void;
  /** Gives up the shared memory once the server is gone. */
  close(): void;
}

/** The state of one isolate. */
export class LocalHttp3Presence implements Http3Presence {
  serving = false;

  set(serving: boolean): void {
    this.serving = serving;
  }

  close(): void {}
}

/** The state in memory every data plane of the node shares. */
export class SharedHttp3Presence implements Http3Presence {
  readonly #word: Int32Array;
  #giveUpRegion: (() => void) | undefined;

  /** The state of the HTTPServer `name` in `regions`, claimed for this plane. */
  constructor(regions: SharedRegions, name: string) {
    const region = regions.claim(`http3 ${name}`, 4);
    this.#word = new Int32Array(region.buffer, region.offset, 1);
    this.#giveUpRegion = () => regions.release(region);
  }

  get serving(): boolean {
    return Atomics.load(this.#word, 0) === 1;
  }

  set(serving: boolean): void {
    Atomics.store(this.#word, 0, serving ? 1 : 0);
  }

  close(): void {
    this.#giveUpRegion?.();
    this.#giveUpRegion = undefined;
  }
}

/**
 * The HTTP/3 state of the HTTPServer `name`: shared by the node's planes
 * when `regions` are at hand and have room, else this plane's own.
 */
export function http3Presence(
  name: string,
  regions: SharedRegions | undefined,
  onError: (message: string) => void,
): Http3Presence {
  if (regions === undefined) return new LocalHttp3Presence();
  try {
    return new SharedHttp3Presence(regions, name);
  } catch (e) {
    onError(`HTTP/3 is advertised by what this data plane serves: ${(e as Error).message}`);
    return new LocalHttp3Presence();
  }
}
