/**
 * One watch request (`?watch=true`) as a stream of watch events, as client-node's `watch.ts` is
 * apart from its informer `cache.ts`: the request, its status, and the newline-delimited JSON of
 * the response split into lines, each narrowed to a watch event. What an event means (an object
 * changed, a bookmark moves the resourceVersion on, an in-stream 410 asks for a relist) is the
 * list-watch loop's business (`k8s_list_watch.ts`).
 */

import type { ApiConnection } from "./k8s_api_connection.ts";
import { GoneError, HttpStatusError } from "./k8s_api_errors.ts";
import { type Narrowed, num, quote, rec, str } from "./k8s_json.ts";
import { isRecord } from "@mat/agents/support";
import { textLines } from "@mat/agents/lines";

/** One line of a watch response, narrowed */
export type WatchEvent =
  | { type: "ADDED" | "MODIFIED" | "DELETED"; object: unknown }
  | { type: "BOOKMARK"; resourceVersion: string }
  | { type: "ERROR"; code: number; reason: string; message: string };

/** Narrows one parsed line of a watch response; the object of a change is left to its own validator */
export function narrowWatchEvent(value: unknown): Narrowed<WatchEvent> {
  if (!isRecord(value)) {
    return { ok: false, error: `Watch event is not an object: ${quote(value)}` };
  }
  const type = value["type"];
  const object = value["object"];
  if (type === "ADDED" || type === "MODIFIED" || type === "DELETED") {
    return { ok: true, value: { type, object } };
  }
  if (!isRecord(object)) {
    return { ok: false, error: `Watch event object is not an object: ${quote(object)}` };
  }
  if (type === "BOOKMARK") {
    const metadata = rec(object, "metadata");
    const resourceVersion = metadata ? str(metadata, "resourceVersion") : undefined;
    if (resourceVersion === undefined) {
      return { ok: false, error: `Bookmark has no resourceVersion: ${quote(object)}` };
    }
    return { ok: true, value: { type, resourceVersion } };
  }
  if (type === "ERROR") {
    return {
      ok: true,
      value: {
        type,
        code: num(object, "code") ?? 0,
        reason: str(object, "reason") ?? "",
        message: str(object, "message") ?? "",
      },
    };
  }
  return { ok: false, error: `Watch event type is unknown: ${quote(type)}` };
}

export interface WatchRequest {
  /** "pod" or "event", for messages */
  what: string;
  path: string;
  query: Record<string, string>;
  /** Where to resume from; undefined: from the server's current state */
  resourceVersion: string | undefined;
  /** The server ends the watch after this long */
  timeoutSeconds: number;
}

/**
 * Opens a watch. Resolves once the server has answered 200, with the watch's events in order (a
 * line that is not JSON or not a watch event comes as an error, not as the end); they end when the
 * server ends the watch, and reading them rejects when the connection drops or `signal` aborts.
 * Rejects with a `GoneError` on 410, with an `HttpStatusError` on any other status.
 */
export async function openWatch(
  api: ApiConnection,
  request: WatchRequest,
  signal: AbortSignal,
): Promise<AsyncGenerator<Narrowed<WatchEvent>>> {
  const { what, path, query } = request;
  const response = await api.get(path, {
    ...query,
    watch: "true",
    allowWatchBookmarks: "true",
    resourceVersion: request.resourceVersion ?? "",
    timeoutSeconds: String(request.timeoutSeconds),
  }, signal);
  if (response.status === 410) {
    throw new GoneError(`Watching ${what}s`, await response.text());
  }
  if (response.status !== 200 || response.body === null) {
    throw new HttpStatusError(response.status, `Watching ${what}s`, await response.text());
  }
  // Deno's fetch stops following `signal` once the Response is garbage-collected (found here: a
  // stop then waited minutes for the server to end the watch), so the body is piped with the
  // signal itself: an abort still ends the read.
  return watchEvents(
    response.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>(), { signal }),
  );
}

async function* watchEvents(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<Narrowed<WatchEvent>> {
  for await (const raw of textLines(body)) {
    const line = raw.trim();
    if (line === "") continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      yield { ok: false, error: `Watch line is not JSON: ${quote(line)}` };
      continue;
    }
    yield narrowWatchEvent(parsed);
  }
}
