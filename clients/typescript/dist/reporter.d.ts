/**
 * The reporter: events to claudewatch's `POST /v1/events` in the background, never blocking or
 * failing the app. Node's built-in `fetch`; the timer is unref'd.
 */
import type { ErrorClass, Stage } from './classify.js';
/**
 * Whether reporters send the `stage` of connection and timeout failures by default. The ingest
 * endpoint refuses fields it does not know, and `stage` is not in its contract yet: switch this on
 * (or pass `sendStage: true`) once the daemon accepts it.
 */
export declare const SEND_STAGE = false;
export type Outcome = 'retry' | 'exhausted' | 'success' | 'failure';
/** One event in the `/v1/events` format (`stage` is sent only with `sendStage`). */
export interface ClaudewatchEvent {
    service: string;
    outcome: Outcome;
    class?: ErrorClass;
    status?: number;
    attempts?: number;
    model?: string;
    count?: number;
    stage?: Stage;
}
export interface ReporterOptions {
    /** Bearer token for claudewatch (`[ingest] tokens_env`). */
    token?: string;
    /** Events buffered at most; beyond it they are dropped and counted. */
    maxQueue?: number;
    /** Events per request at most. */
    maxBatch?: number;
    /** How often buffered events are sent. */
    flushIntervalMs?: number;
    /** Timeout of one request to claudewatch. */
    timeoutMs?: number;
    /** Tries per batch (same `Idempotency-Key`) on connection errors, 5xx and 429. */
    sendAttempts?: number;
    /** Wait between those tries. */
    resendDelayMs?: number;
    /** Where warnings go (a refused or undeliverable batch); `console.warn` by default. */
    warn?: (message: string) => void;
    /** Send the `stage` of failures (see {@link SEND_STAGE}). */
    sendStage?: boolean;
}
/**
 * Sends events to claudewatch in the background. {@link report} never blocks and never throws:
 * it appends to a bounded buffer, sent every `flushIntervalMs` or as soon as `maxBatch` events
 * wait, with identical events merged into one with a `count`. The timer is unref'd, so the
 * reporter never keeps a process alive; call {@link close} before exiting to send the rest.
 */
export declare class Reporter {
    readonly endpoint: string;
    /** Events dropped: buffer full, or their batch could not be delivered. */
    dropped: number;
    /** Events the daemon accepted. */
    sent: number;
    /** Requests to the daemon that failed (each resend counts). */
    failedRequests: number;
    private readonly token;
    private readonly maxQueue;
    private readonly maxBatch;
    private readonly flushIntervalMs;
    private readonly timeoutMs;
    private readonly sendAttempts;
    private readonly resendDelayMs;
    private readonly warn;
    /** Whether events keep their `stage` on the wire (see {@link SEND_STAGE}). */
    readonly sendStage: boolean;
    private buffer;
    private timer;
    private sending;
    private closed;
    constructor(url?: string, options?: ReporterOptions);
    /** Queues one event. Never blocks, never throws. */
    report(event: ClaudewatchEvent): void;
    /** Sends everything buffered; resolves `true` when nothing is left to send (delivered or
     * dropped) within `timeoutMs`. */
    flush(timeoutMs?: number): Promise<boolean>;
    /** Flushes, then drops whatever is reported afterwards. */
    close(timeoutMs?: number): Promise<boolean>;
    /** Starts sending a batch unless a send is in progress (which starts the next one itself). */
    private kick;
    private deliver;
}
export declare function sleep(ms: number, unref?: boolean): Promise<void>;
/** A service name as claudewatch takes it; throws on a config mistake (better at start-up than
 * losing every event). */
export declare function checkService(service: string): string;
/** A model id as a claudewatch label: other characters become `_`, cut to 64 characters, so
 * that one odd id never gets a whole batch refused. */
export declare function modelLabel(model: unknown): string | undefined;
