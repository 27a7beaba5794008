/**
 * The playbook around an `Anthropic` client: plain calls, raw streams and the stream helper.
 *
 * A stream is retried only while nothing has reached the caller: a failure before its first
 * event (a 529, a reset before or right after the headers, an `event: error` first) is retried
 * under the playbook; once an event was handed over, a failure is reported (`exhausted` for a
 * retryable class, `failure` otherwise) and raised as the SDK raised it, never silently re-sent.
 */
import type Anthropic from '@anthropic-ai/sdk';
import type { ExtractParsedContentFromParams } from '@anthropic-ai/sdk';
import type { Logger } from '@anthropic-ai/sdk/client';
import { Stream } from '@anthropic-ai/sdk/core/streaming';
import { MessageStream } from '@anthropic-ai/sdk/lib/MessageStream';
import { RetryPolicy } from './policy.js';
import { type ClaudewatchEvent, type Reporter } from './reporter.js';
type Messages = Anthropic['messages'];
/** The SDK's per-request options (`signal`, `headers`, `timeout`, …). */
export type RequestOptions = NonNullable<Parameters<Messages['create']>[1]>;
type StreamEvent = Anthropic.RawMessageStreamEvent;
/** What `messages.create({ stream: true })` takes, less `stream` (the helper passes its params
 * on as they are, as the SDK's own `MessageStream` does). */
type StreamParams = Omit<Anthropic.MessageCreateParamsStreaming, 'stream'>;
/** Where the wrapper's own lines go: one per failed attempt (`info` when retried, else `warn`). */
export type RetryLogger = Pick<Logger, 'info' | 'warn'>;
export interface RetryingClientOptions {
    /** The app's name in claudewatch (1–64 characters of `A-Za-z0-9_.:-`). */
    service: string;
    reporter: Reporter;
    policy?: RetryPolicy;
    /** Injectable for tests. */
    sleep?: (ms: number) => Promise<void>;
    /** Sees every event as it is reported (`stage` included), for the app's own logs. */
    onEvent?: (event: ClaudewatchEvent) => void;
    /** One line per failed attempt, with its class, stage and the decision; none by default. */
    logger?: RetryLogger;
}
/** Runs calls through the playbook and reports what happens. The last attempt's error reaches
 * the caller unchanged. */
export declare class RetryingClient {
    readonly client: Anthropic;
    readonly service: string;
    readonly reporter: Reporter;
    readonly policy: RetryPolicy;
    /** @internal */
    readonly sleep: (ms: number) => Promise<void>;
    private readonly onEvent;
    private readonly logger;
    constructor(client: Anthropic, options: RetryingClientOptions);
    /** `client.messages.create(params)` under the playbook: a `Message`, or with `stream: true` a
     * `Stream` of the SDK's events that follows the stream rule above. */
    messagesCreate(params: Anthropic.MessageCreateParamsNonStreaming, options?: RequestOptions): Promise<Anthropic.Message>;
    messagesCreate(params: Anthropic.MessageCreateParamsStreaming, options?: RequestOptions): Promise<Stream<StreamEvent>>;
    /** `client.messages.stream(params)` under the playbook: the SDK's `MessageStream` (its
     * events, `on('text', …)`, `finalMessage()`, `finalText()`), fed by retried attempts. */
    messagesStream<Params extends Anthropic.MessageStreamParams>(params: Params, options?: RequestOptions): RetryingMessageStream<ExtractParsedContentFromParams<Params>>;
    /** Runs `fn` (one API call with the SDK) under the playbook. */
    call<T>(fn: () => Promise<T>, options?: {
        model?: string;
    }): Promise<T>;
    /** @internal Calls `fn` until it resolves or the chain gives up (its last error is thrown). */
    attempts<T>(chain: Chain, fn: () => Promise<T>): Promise<T>;
    /**
     * @internal A `Stream` of the events of `messages.create({ stream: true })`, reopened under the
     * chain while nothing was handed over. `onResponse` sees each attempt's 200.
     */
    eventStream(chain: Chain, params: StreamParams, options: RequestOptions | undefined, onResponse?: (response: Response) => void): Promise<Stream<StreamEvent>>;
    /** @internal */
    emit(event: ClaudewatchEvent): void;
    /** @internal */
    log(line: string, retried: boolean): void;
}
/** @internal The attempts of one call; every outcome is reported once: each retried attempt,
 * then one of `success`, `exhausted`, `failure`. */
export declare class Chain {
    private readonly owner;
    private readonly model;
    attempt: number;
    private backoffs;
    private serverRetries;
    private finished;
    constructor(owner: RetryingClient, model: string | undefined);
    begin(): void;
    /** The attempt threw `error`: milliseconds to wait before the next attempt, or `null` to let
     * the error reach the caller. `delivered`: the caller already has part of this attempt's
     * answer, so a retry would duplicate it and the chain gives up. */
    failed(error: unknown, delivered: boolean): number | null;
    /** The call finished well (a stream: read to its end). */
    succeeded(): void;
    private report;
}
/**
 * The SDK's `MessageStream`, fed by a retried event stream: the same object for the caller
 * (`on(...)`, async iteration, `finalMessage()`, `abort()`), with the SDK's own event handling
 * and error wrapping, and attempts under the playbook behind it.
 */
export declare class RetryingMessageStream<ParsedT = null> extends MessageStream<ParsedT> {
    #private;
    /** @internal */
    static start<ParsedT>(owner: RetryingClient, params: Anthropic.MessageStreamParams, options?: RequestOptions): RetryingMessageStream<ParsedT>;
    protected _connected(response: Response | null): void;
}
export {};
