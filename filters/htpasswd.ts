/**
 * Users from an Apache htpasswd file (`user:hash` per line), re-read when
 * the file changes. Hash schemes are those of `password_hash.ts`.
 *
 * @module
 */

import type { Logger } from "./filter.ts";
import { hashScheme } from "./password_hash.ts";
import { PasswordBook } from "./password_book.ts";

/** Parses htpasswd text; `onProblem` hears about each line that is skipped. */
export function parseHtpasswd(
  text: string,
  onProblem: (line: number, message: string) => void = () => {},
): Map<string, string> {
  const users = new Map<string, string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const colon = line.indexOf(":");
    if (colon <= 0) {
      onProblem(i + 1, 'not "user:hash"');
      return;
    }
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (!hashScheme(hash)) {
      onProblem(i + 1, `user "${user}": unsupported or malformed password hash`);
      return;
    }
    users.set(user, hash);
  });
  return users;
}

/** How a file looked when last read, to notice changes cheaply. */
interface FileStamp {
  readonly mtime: number;
  readonly size: number;
  readonly ino: number;
}

function stampOf(info: Deno.FileInfo): FileStamp {
  return { mtime: info.mtime?.getTime() ?? 0, size: info.size, ino: info.ino ?? 0 };
}

function sameStamp(a: FileStamp | undefined, b: FileStamp | undefined): boolean {
  return !!a && !!b && a.mtime === b.mtime && a.size === b.size && a.ino === b.ino;
}

/**
 * An htpasswd file's users. Read once when made; {@linkcode HtpasswdFile.watch}
 * re-reads it whenever its mtime, size or inode change. A file that cannot be
 * read lets nobody in until it can.
 */
export class HtpasswdFile {
  readonly #path: string;
  readonly #log: Logger;
  readonly #users = new PasswordBook();
  #stamp: FileStamp | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #checking: Promise<unknown> | undefined;
  #closed = false;

  /** Reads `path` now (synchronously); problems are logged, not thrown. */
  constructor(path: string, log: Logger) {
    this.#path = path;
    this.#log = log;
    try {
      const stamp = stampOf(Deno.statSync(path));
      this.#install(Deno.readTextFileSync(path), stamp);
    } catch (e) {
      this.#fail(e);
    }
  }

  /** How many users are loaded. */
  get size(): number {
    return this.#users.size;
  }

  #install(text: string, stamp: FileStamp): void {
    this.#users.replace(parseHtpasswd(text, (line, message) => {
      this.#log.warn(`htpasswd file ${this.#path} line ${line} skipped: ${message}`);
    }));
    this.#stamp = stamp;
  }

  #fail(e: unknown): void {
    this.#log.error(`cannot read htpasswd file ${this.#path}: ${(e as Error).message}`);
    this.#users.replace(new Map());
    this.#stamp = undefined;
  }

  /** Re-reads the file if it changed since the last read; says whether it did. */
  async reloadIfChanged(): Promise<boolean> {
    let stamp: FileStamp;
    try {
      stamp = stampOf(await Deno.stat(this.#path));
    } catch (e) {
      if (this.#stamp !== undefined || this.#users.size) this.#fail(e);
      return false;
    }
    if (sameStamp(stamp, this.#stamp)) return false;
    try {
      this.#install(await Deno.readTextFile(this.#path), stamp);
      this.#log.info(`htpasswd file ${this.#path} reloaded: ${this.#users.size} user(s)`);
      return true;
    } catch (e) {
      this.#fail(e);
      return false;
    }
  }

  /** Checks for changes every `intervalMs` until {@linkcode HtpasswdFile.close}. */
  watch(intervalMs: number): void {
    if (this.#closed || this.#timer !== undefined) return;
    // Unreferenced: watching a file never keeps the process alive by itself.
    const schedule = () => {
      const timer = setTimeout(tick, intervalMs);
      Deno.unrefTimer(timer as unknown as number);
      this.#timer = timer;
    };
    const tick = () => {
      this.#checking = this.reloadIfChanged().finally(() => {
        this.#checking = undefined;
        if (!this.#closed) schedule();
      });
    };
    schedule();
  }

  /** Whether `user` exists and `password` matches (see {@linkcode PasswordBook.verify}). */
  verify(user: string, password: string): Promise<boolean> {
    return this.#users.verify(user, password);
  }

  /** Stops watching; waits for a check in progress. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#checking;
  }
}
