/** When to retry, and after how long: the retry playbook. */
import { type Failure } from './classify.js';
/** What to do after a failed attempt, and why (the why goes to the log). */
export type Decision = {
    outcome: 'retry';
    delayMs: number;
    reason: string;
} | {
    outcome: 'exhausted' | 'failure';
    reason: string;
};
export interface RetryPolicyOptions {
    maxAttempts: number;
    initialDelayMs: number;
    maxDelayMs: number;
    jitter: number;
    serverErrorDelayMs: number;
    serverErrorRetries: number;
}
/** When to retry, and after how long. Every delay is configurable (tests run fast). */
export declare class RetryPolicy {
    /** Attempts in one chain at most, the first included (the playbook's "5 tries"). */
    maxAttempts: number;
    /** First backoff delay for overloaded, connection, timeout and a 429 without retry-after. */
    initialDelayMs: number;
    /** Backoff doubles up to this; a longer `retry-after` gives up at once instead of waiting. */
    maxDelayMs: number;
    /** ± this fraction of random jitter on backoff delays. */
    jitter: number;
    /** Wait before the one retry of a server error. */
    serverErrorDelayMs: number;
    /** Retries a chain may spend on server errors. */
    serverErrorRetries: number;
    constructor(options?: Partial<RetryPolicyOptions>);
    /**
     * What to do after attempt `attempt` (1-based) failed with `failure`. `backoffs` and
     * `serverRetries` are the retries this chain already spent on backoff classes and on server
     * errors.
     */
    decide(failure: Failure, attempt: number, backoffs: number, serverRetries: number): Decision;
}
