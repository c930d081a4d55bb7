/**
 * Users and their password hashes, checked quickly: a password that matched
 * a slow hash (bcrypt, crypt) is remembered as a peppered SHA-256, so the
 * same credentials on every request cost one fast hash. Entries that are
 * not a supported hash are plain-text passwords (custom data credentials
 * may hold either), compared in constant time.
 *
 * @module
 */

import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { hashScheme, isSlowScheme, verifyPassword } from "./password_hash.ts";

const encoder = new TextEncoder();

interface UserEntry {
  readonly secret: string;
  /** "plain" for a plain-text password, else whether its hash is slow to check. */
  readonly check: "plain" | "fast" | "slow";
  /** A plain password's own proof (see `#proof`), made once when the entry is. */
  readonly plainProof?: Uint8Array;
  /** Proof of the last password that matched a slow hash, see `#proof`. */
  verified?: string;
}

/** A set of users with their password hashes. */
export class PasswordBook {
  // A per-process pepper, so cached proofs say nothing about passwords.
  readonly #pepper = randomBytes(16);
  #users = new Map<string, UserEntry>();

  /** Takes `users` (user -> hash or plain password) as the whole set. */
  replace(users: ReadonlyMap<string, string>): void {
    const next = new Map<string, UserEntry>();
    for (const [user, secret] of users) {
      const scheme = hashScheme(secret);
      const check = scheme === undefined ? "plain" : isSlowScheme(scheme) ? "slow" : "fast";
      // A user whose hash did not change keeps the proof of the password that matched it.
      const old = this.#users.get(user);
      if (old?.secret === secret) next.set(user, old);
      else if (check === "plain") {
        next.set(user, { secret, check, plainProof: encoder.encode(this.#proof(secret)) });
      } else next.set(user, { secret, check });
    }
    this.#users = next;
  }

  /** How many users there are. */
  get size(): number {
    return this.#users.size;
  }

  #proof(password: string): string {
    return createHash("sha256").update(this.#pepper).update(password).digest("hex");
  }

  /** Whether `user` exists and `password` is theirs. */
  async verify(user: string, password: string): Promise<boolean> {
    const entry = this.#users.get(user);
    if (!entry) return false;
    if (entry.check === "plain") {
      // Equal-length digests: the comparison takes as long whatever the password.
      return timingSafeEqual(encoder.encode(this.#proof(password)), entry.plainProof!);
    }
    if (entry.check === "fast") return await verifyPassword(password, entry.secret);
    const proof = this.#proof(password);
    if (entry.verified === proof) return true;
    if (!await verifyPassword(password, entry.secret)) return false;
    entry.verified = proof;
    return true;
  }
}
