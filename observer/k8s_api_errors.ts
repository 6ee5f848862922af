/**
 * How a request to the API server fails, as classes the list-watch loop (`k8s_list_watch.ts`)
 * branches on: a `GoneError` makes it list again; anything else (an `HttpStatusError`, a dropped
 * connection, a body that does not narrow) is retried with backoff.
 */

import { quote } from "./k8s_json.ts";

/** The API server answered with a status other than 200 */
export class HttpStatusError extends Error {
  constructor(readonly status: number, what: string, body: string) {
    super(`${what} answered HTTP ${status}: ${quote(body.slice(0, 200))}`);
    this.name = "HttpStatusError";
  }
}

/** The resourceVersion to resume from is too old (410 Gone): list again */
export class GoneError extends Error {
  constructor(what: string, detail: string) {
    super(`${what} resourceVersion expired (410 Gone): ${quote(detail)}`);
    this.name = "GoneError";
  }
}
