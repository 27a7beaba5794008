/**
 * The retry playbook around the official `@anthropic-ai/sdk`, reporting to claudewatch.
 *
 * The SDK's own retries are switched off (`maxRetries: 0`); this wrapper decides per error class:
 *
 * | class          | what                                                     | policy                                                  |
 * | -------------- | -------------------------------------------------------- | ------------------------------------------------------- |
 * | `overloaded`   | 529, 503, `overloaded_error` (also mid-stream)           | backoff 1 s doubling to 60 s, ±20 % jitter, 5 tries     |
 * | `connection`   | reset, refused, closed: before the response or after it  | as overloaded                                           |
 * | `timeout`      | no answer within the client's timeout                    | as overloaded                                           |
 * | `rate_limited` | 429 (or `rate_limit_error` mid-stream)                   | wait `retry-after` (over the 60 s cap: give up at once); |
 * |                |                                                          | else backoff; a spend limit is not retried              |
 * | `server_error` | 500, 502, 504, other 5xx, `api_error` mid-stream         | retry once after 5 s, then give up                      |
 * | `client_error` | 400 (a spend limit you set included) and other 4xx       | never retried                                           |
 * | `auth`         | 401, 403                                                 | never retried                                           |
 * | `unexpected`   | a 2xx body the SDK could not read                        | never retried                                           |
 *
 * Times are in milliseconds, as everywhere in JavaScript.
 */

export { CLASSES, STAGES, SPEND_LIMIT_CODES, classify, isSpendLimit, retryAfterMs } from './classify.js';
export type { ErrorClass, Failure, Stage } from './classify.js';
export { RetryPolicy } from './policy.js';
export type { Decision, RetryPolicyOptions } from './policy.js';
export { Reporter, SEND_STAGE, checkService, modelLabel } from './reporter.js';
export type { ClaudewatchEvent, Outcome, ReporterOptions } from './reporter.js';
export { RetryingClient, RetryingMessageStream } from './client.js';
export type { RequestOptions, RetryLogger, RetryingClientOptions } from './client.js';
