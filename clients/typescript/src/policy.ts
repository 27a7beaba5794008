/** When to retry, and after how long: the retry playbook. */

import { type ErrorClass, type Failure, isSpendLimit } from './classify.js';

const BACKOFF_CLASSES: ReadonlySet<ErrorClass> = new Set(['overloaded', 'connection', 'timeout', 'rate_limited']);

/** What to do after a failed attempt, and why (the why goes to the log). */
export type Decision = { outcome: 'retry'; delayMs: number; reason: string } | { outcome: 'exhausted' | 'failure'; reason: string };

export interface RetryPolicyOptions {
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  jitter: number;
  serverErrorDelayMs: number;
  serverErrorRetries: number;
}

/** When to retry, and after how long. Every delay is configurable (tests run fast). */
export class RetryPolicy {
  /** Attempts in one chain at most, the first included (the playbook's "5 tries"). */
  maxAttempts = 5;
  /** First backoff delay for overloaded, connection, timeout and a 429 without retry-after. */
  initialDelayMs = 1000;
  /** Backoff doubles up to this; a longer `retry-after` gives up at once instead of waiting. */
  maxDelayMs = 60_000;
  /** ± this fraction of random jitter on backoff delays. */
  jitter = 0.2;
  /** Wait before the one retry of a server error. */
  serverErrorDelayMs = 5000;
  /** Retries a chain may spend on server errors. */
  serverErrorRetries = 1;

  constructor(options: Partial<RetryPolicyOptions> = {}) {
    Object.assign(this, options);
  }

  /**
   * What to do after attempt `attempt` (1-based) failed with `failure`. `backoffs` and
   * `serverRetries` are the retries this chain already spent on backoff classes and on server
   * errors.
   */
  decide(failure: Failure, attempt: number, backoffs: number, serverRetries: number): Decision {
    const cls = failure.cls;
    if (cls === 'server_error') {
      return serverRetries < this.serverErrorRetries && attempt < this.maxAttempts
        ? { outcome: 'retry', delayMs: this.serverErrorDelayMs, reason: 'server error: one retry' }
        : { outcome: 'exhausted', reason: 'server error retried already' };
    }
    if (!BACKOFF_CLASSES.has(cls)) return { outcome: 'failure', reason: `${cls} is never retried` };
    if (isSpendLimit(failure)) return { outcome: 'failure', reason: `spend limit (${failure.errorCode}): retrying cannot help` };
    const wait = cls === 'rate_limited' ? failure.retryAfterMs : undefined;
    if (wait !== undefined && wait > 0) {
      if (wait > this.maxDelayMs) {
        return { outcome: 'exhausted', reason: `retry-after ${wait / 1000} s is over the ${this.maxDelayMs / 1000} s cap` };
      }
      if (attempt >= this.maxAttempts) return { outcome: 'exhausted', reason: `${attempt} attempts` };
      return { outcome: 'retry', delayMs: wait, reason: `retry-after ${wait / 1000} s` };
    }
    if (attempt >= this.maxAttempts) return { outcome: 'exhausted', reason: `${attempt} attempts` };
    const base = Math.min(this.initialDelayMs * 2 ** backoffs, this.maxDelayMs);
    const jittered = base * (1 + (Math.random() * 2 - 1) * this.jitter);
    return { outcome: 'retry', delayMs: Math.max(0, jittered), reason: 'backoff' };
  }
}
