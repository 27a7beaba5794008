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

import { AnthropicError, APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from '@anthropic-ai/sdk';

/** The failure classes claudewatch knows (the same list its probes use). */
export const CLASSES = [
  'overloaded',
  'connection',
  'rate_limited',
  'server_error',
  'timeout',
  'client_error',
  'auth',
  'unexpected',
] as const;
export type ErrorClass = (typeof CLASSES)[number];

/** Where a connection or timeout failure happened: `connect` (DNS, TCP, TLS), `request` (sent,
 * no response headers yet) or `body` (after the headers: mid-stream or mid-body). */
export const STAGES = ['connect', 'request', 'body'] as const;
export type Stage = (typeof STAGES)[number];

/** 429s whose `error.details.error_code` says retrying cannot help before the limit resets. */
export const SPEND_LIMIT_CODES: ReadonlySet<string> = new Set(['enforced_spend_limit_reached', 'contract_spend_limit_reached']);

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

// An `event: error` inside a 200 stream carries no status: its `error.type` decides.
const EVENT_TYPE_CLASSES: Record<string, ErrorClass> = {
  overloaded_error: 'overloaded',
  rate_limit_error: 'rate_limited',
  api_error: 'server_error',
  timeout_error: 'server_error',
  authentication_error: 'auth',
  permission_error: 'auth',
  invalid_request_error: 'client_error',
  not_found_error: 'client_error',
  request_too_large: 'client_error',
  billing_error: 'client_error',
};

// Socket-level error codes (Node's and undici's) that mean the network failed, not the caller.
const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
const NETWORK_CODES = new Set([
  ...CONNECT_CODES,
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_BODY_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'ETIMEDOUT']);

/**
 * The playbook's view of an error thrown by an SDK call, or `null` for one that is not the
 * API's (a bug in the caller's code, the caller's own abort): those pass through untouched and
 * are never reported.
 */
export function classify(error: unknown): Failure | null {
  if (error instanceof APIUserAbortError) return null;
  if (error instanceof APIConnectionTimeoutError) {
    // The SDK's own timer: it covers connecting and waiting for the headers, which it cannot tell apart.
    return withStage({ cls: 'timeout' }, connectionStage(error));
  }
  if (error instanceof APIConnectionError) return withStage({ cls: 'connection' }, connectionStage(error) ?? 'request');
  if (error instanceof APIError) return statusFailure(error);
  // A connection that broke after the headers: fetch's TypeError('terminated') with the socket
  // error as its cause, raw from a body or raw stream, wrapped in an AnthropicError by the helper.
  if (error instanceof TypeError || error instanceof AnthropicError) {
    const code = networkCode(error);
    if (code !== undefined) return { cls: TIMEOUT_CODES.has(code) ? 'timeout' : 'connection', stage: 'body' };
  }
  // A 2xx whose body is not JSON (the helper wraps the SyntaxError).
  if (error instanceof SyntaxError || (error instanceof AnthropicError && error.cause instanceof SyntaxError)) {
    return { cls: 'unexpected' };
  }
  return null;
}

/** Whether the playbook must not retry: a spend limit that retrying cannot lift. */
export function isSpendLimit(failure: Failure): boolean {
  return failure.cls === 'rate_limited' && failure.errorCode !== undefined && SPEND_LIMIT_CODES.has(failure.errorCode);
}

function statusFailure(error: APIError): Failure {
  const status = error.status;
  const common: Omit<Failure, 'cls'> = {};
  if (typeof error.type === 'string') common.errorType = error.type;
  if (error.errorCode !== null) common.errorCode = error.errorCode;
  const wait = retryAfterMs(error.headers);
  if (wait !== null) common.retryAfterMs = wait;
  if (typeof status !== 'number') {
    // `event: error` after the 200: no status; the event's type says all.
    return { cls: EVENT_TYPE_CLASSES[error.type ?? ''] ?? 'server_error', ...common };
  }
  if (status >= 100 && status <= 599) common.status = status;
  let cls: ErrorClass;
  if (error.type === 'overloaded_error' || status === 503 || status === 529) cls = 'overloaded';
  else if (status === 429) cls = 'rate_limited';
  else if (status === 401 || status === 403) cls = 'auth';
  else if (status >= 500) cls = 'server_error';
  else cls = 'client_error';
  return { cls, ...common };
}

function withStage(failure: Failure, stage: Stage | undefined): Failure {
  if (stage !== undefined) failure.stage = stage;
  return failure;
}

function connectionStage(error: Error): Stage | undefined {
  const code = networkCode(error);
  if (code === undefined) return undefined;
  return CONNECT_CODES.has(code) ? 'connect' : 'request';
}

/** The first socket-level error code along the `cause` chain. */
function networkCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    current = current.cause;
  }
  return undefined;
}

/** Milliseconds the server asked us to wait: `retry-after-ms`, then `retry-after` as seconds or
 * as an HTTP date (the SDK's order); `null` when absent or unreadable. */
export function retryAfterMs(headers: Headers | undefined): number | null {
  if (!(headers instanceof Headers)) return null;
  const ms = Number.parseFloat(headers.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms)) return Math.max(0, ms);
  const value = headers.get('retry-after');
  if (value === null) return null;
  const seconds = Number(value);
  if (value.trim() !== '' && Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : null;
}
