/**
 * HTTP basic auth in front of the admin API, for the users of `basic-auth`.
 *
 * @module
 */

import { timingSafeEqual } from "node:crypto";
import { ApiError, errorReply } from "./replies.ts";

/** A handler of admin requests. */
export type AdminRequestHandler = (req: Request) => Response | Promise<Response>;

const encoder = new TextEncoder();

/**
 * `handle` behind HTTP basic auth for `users`: others get 401 with the
 * challenge, its body a `{code, message}` like any admin error (YAML, or
 * JSON when accepted).
 */
export function withBasicAuth(
  users: Readonly<Record<string, string>>,
  handle: AdminRequestHandler,
): AdminRequestHandler {
  const accepted = Object.entries(users).map(([user, password]) =>
    encoder.encode(`${user}:${password}`)
  );
  return async (req) => {
    const given = credentials(req.headers.get("authorization"));
    // Compared with each, in constant time, so the time taken tells nothing of a password.
    let allowed = false;
    for (const pair of accepted) {
      if (given !== undefined && given.length === pair.length && timingSafeEqual(given, pair)) {
        allowed = true;
      }
    }
    if (allowed) return handle(req);
    const refused = await errorReply(req, new ApiError(401, "unauthorized"));
    refused.headers.set("www-authenticate", 'Basic realm="easegress"');
    return refused;
  };
}

/** The `user:password` bytes of a Basic authorization, or undefined. */
function credentials(header: string | null): Uint8Array | undefined {
  const match = header?.match(/^Basic\s+([A-Za-z0-9+/=]+)\s*$/i);
  if (!match) return undefined;
  try {
    return Uint8Array.fromBase64(match[1]);
  } catch {
    return undefined;
  }
}
