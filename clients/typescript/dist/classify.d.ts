/**
 * What kind of failure an error is: the playbook's class, where the call broke (`stage`), and
 * what the server said. Checked against the pinned SDK (npm `@anthropic-ai/sdk` 1.14.0 on
 * Node's fetch, undici) on real sockets by the package's tests (`test/faults.test.ts`):
 *
 * | what the network did       | what the SDK raises (`maxRetries: 0`)                                      |
 * | -------------------------- | -------------------------------------------------------------------------- |
 * | RST before any response    | `APIConnectionError` ← `TypeError('fetch failed')` ← `ECONNRESET`           |
 * | RST / FIN mid-body (JSON)  | raw `TypeError('terminated')` ← `ECONNRESET` or `UND_ERR_SOCKET` (the body  |
 * |                            | is read after the SDK's retry loop)                                         |
 * | RST / FIN mid-stream       | raw stream: `TypeError('terminated')` ← the same; stream helper:            |
 * |                            | `AnthropicError('terminated')` ← that `TypeError`                           |
 * | stall after the headers    | nothing: the SDK's `timeout` ends with the headers; undici's body timeout   |
 * |                            | (300 s) ends it as `TypeError('terminated')` ← `UND_ERR_BODY_TIMEOUT`       |
 * | `event: error` in a 200    | `APIError` with `status` undefined, `.type` from the event's body           |
 */
/** The failure classes claudewatch knows (the same list its probes use). */
export declare const CLASSES: readonly ["overloaded", "connection", "rate_limited", "server_error", "timeout", "client_error", "auth", "unexpected"];
export type ErrorClass = (typeof CLASSES)[number];
/** Where a connection or timeout failure happened: `connect` (DNS, TCP, TLS), `request` (sent,
 * no response headers yet) or `body` (after the headers: mid-stream or mid-body). */
export declare const STAGES: readonly ["connect", "request", "body"];
export type Stage = (typeof STAGES)[number];
/** 429s whose `error.details.error_code` says retrying cannot help before the limit resets. */
export declare const SPEND_LIMIT_CODES: ReadonlySet<string>;
/** One failed attempt as the playbook sees it. */
export interface Failure {
    cls: ErrorClass;
    /** For `connection` and `timeout`: where it broke, when known. */
    stage?: Stage;
    /** The HTTP status of an error answer (never set for `event: error` inside a 200 stream). */
    status?: number;
    /** The API's `error.type`, when it sent one. */
    errorType?: string;
    /** The API's `error.details.error_code`, when it sent one. */
    errorCode?: string;
    /** Milliseconds the server asked to wait (`retry-after-ms`, `retry-after`), when it did. */
    retryAfterMs?: number;
}
/**
 * The playbook's view of an error thrown by an SDK call, or `null` for one that is not the
 * API's (a bug in the caller's code, the caller's own abort): those pass through untouched and
 * are never reported.
 */
export declare function classify(error: unknown): Failure | null;
/** Whether the playbook must not retry: a spend limit that retrying cannot lift. */
export declare function isSpendLimit(failure: Failure): boolean;
/** Milliseconds the server asked us to wait: `retry-after-ms`, then `retry-after` as seconds or
 * as an HTTP date (the SDK's order); `null` when absent or unreadable. */
export declare function retryAfterMs(headers: Headers | undefined): number | null;
