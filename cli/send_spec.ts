/**
 * Sending one spec to the admin API as create, update or apply.
 *
 * @module
 */

import { type AdminClient, type AdminRequest, ensureOk } from "./client.ts";

/** How create/update/apply send one document. */
export type SendMode = "create" | "update" | "apply";

/**
 * Sends `body` (a `json` value or `yaml` text) as `mode` says: create POSTs it to `paths.create`, update
 * PUTs it to `paths.update`, apply PUTs it and POSTs what the PUT could not
 * find (404); any other failure stops there. Returns what happened to it.
 */
export async function sendSpec(
  client: AdminClient,
  mode: SendMode,
  paths: { update: string; create: string },
  body: Pick<AdminRequest, "json" | "yaml">,
): Promise<"created" | "updated"> {
  if (mode !== "create") {
    const reply = await client.send({ method: "PUT", path: paths.update, ...body });
    if (!(mode === "apply" && reply.status === 404)) {
      ensureOk(reply);
      return "updated";
    }
  }
  await client.call({ method: "POST", path: paths.create, ...body });
  return "created";
}
