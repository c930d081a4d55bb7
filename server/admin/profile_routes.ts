/**
 * The profiling routes, as Easegress's: `GET /profile` tells which files
 * are being profiled into, `POST /profile/start/cpu|memory` (body
 * `path: FILE`) starts a profile of every isolate of this node, and
 * `POST /profile/stop` writes them.
 *
 * @module
 */

import { isPlainObject } from "../../filters/spec.ts";
import { type NodeProfiler, ProfileRequestError } from "../profiling/node_profiler.ts";
import { type AdminRoute, ApiError, readDocument, reply } from "./replies.ts";

/** What the routes need. */
export interface ProfileRouteContext {
  profiler: NodeProfiler;
}

/** The profiling routes, as the admin API's route table takes them. */
export const PROFILE_ROUTES: AdminRoute<ProfileRouteContext>[] = [
  {
    method: "GET",
    pattern: "/profile",
    handler: (req, _p, ctx) => reply(req, ctx.profiler.info()),
  },
  { method: "POST", pattern: "/profile/start/cpu", handler: start("cpu") },
  { method: "POST", pattern: "/profile/start/memory", handler: start("memory") },
  { method: "POST", pattern: "/profile/stop", handler: stop },
];

const MISSING_PATH = 'missing path: send "path: FILE"';

function start(kind: "cpu" | "memory"): AdminRoute<ProfileRouteContext>["handler"] {
  return async function startProfile(req, _p, ctx) {
    const body = await readDocument(req, MISSING_PATH);
    const path = isPlainObject(body) ? body.path : undefined;
    if (path === undefined || path === null || path === "") throw new ApiError(400, MISSING_PATH);
    if (typeof path !== "string") {
      throw new ApiError(400, `path must be a file path, got ${JSON.stringify(path)}`);
    }
    try {
      if (kind === "cpu") await ctx.profiler.startCpu(path);
      else await ctx.profiler.startMemory(path);
    } catch (e) {
      throw new ApiError(e instanceof ProfileRequestError ? 400 : 500, (e as Error).message);
    }
    return new Response(null, { status: 200 });
  };
}

async function stop(_req: Request, _p: string[], ctx: ProfileRouteContext): Promise<Response> {
  await ctx.profiler.stop();
  return new Response(null, { status: 200 });
}
