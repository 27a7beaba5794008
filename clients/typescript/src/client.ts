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

import { classify, type Failure } from './classify.js';
import { type Decision, RetryPolicy } from './policy.js';
import { type ClaudewatchEvent, type Outcome, type Reporter, checkService, modelLabel, sleep } from './reporter.js';

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
export class RetryingClient {
  readonly client: Anthropic;
  readonly service: string;
  readonly reporter: Reporter;
  readonly policy: RetryPolicy;
  /** @internal */
  readonly sleep: (ms: number) => Promise<void>;
  private readonly onEvent: ((event: ClaudewatchEvent) => void) | undefined;
  private readonly logger: RetryLogger | undefined;

  constructor(client: Anthropic, options: RetryingClientOptions) {
    // The SDK's own retries would hide failures from the playbook (and retry spend limits).
    this.client = client.maxRetries === 0 ? client : client.withOptions({ maxRetries: 0 });
    this.service = checkService(options.service);
    this.reporter = options.reporter;
    this.policy = options.policy ?? new RetryPolicy();
    this.sleep = options.sleep ?? ((ms) => sleep(ms));
    this.onEvent = options.onEvent;
    this.logger = options.logger;
  }

  /** `client.messages.create(params)` under the playbook: a `Message`, or with `stream: true` a
   * `Stream` of the SDK's events that follows the stream rule above. */
  messagesCreate(params: Anthropic.MessageCreateParamsNonStreaming, options?: RequestOptions): Promise<Anthropic.Message>;
  messagesCreate(params: Anthropic.MessageCreateParamsStreaming, options?: RequestOptions): Promise<Stream<StreamEvent>>;
  messagesCreate(params: Anthropic.MessageCreateParams, options?: RequestOptions): Promise<Anthropic.Message | Stream<StreamEvent>> {
    if (params.stream) return this.eventStream(new Chain(this, params.model), params, options);
    return this.call(() => this.client.messages.create(params, options), { model: params.model });
  }

  /** `client.messages.stream(params)` under the playbook: the SDK's `MessageStream` (its
   * events, `on('text', …)`, `finalMessage()`, `finalText()`), fed by retried attempts. */
  messagesStream<Params extends Anthropic.MessageStreamParams>(
    params: Params,
    options?: RequestOptions,
  ): RetryingMessageStream<ExtractParsedContentFromParams<Params>> {
    return RetryingMessageStream.start(this, params, options);
  }

  /** Runs `fn` (one API call with the SDK) under the playbook. */
  async call<T>(fn: () => Promise<T>, options: { model?: string } = {}): Promise<T> {
    const chain = new Chain(this, options.model);
    const result = await this.attempts(chain, fn);
    chain.succeeded();
    return result;
  }

  /** @internal Calls `fn` until it resolves or the chain gives up (its last error is thrown). */
  async attempts<T>(chain: Chain, fn: () => Promise<T>): Promise<T> {
    for (;;) {
      chain.begin();
      try {
        return await fn();
      } catch (error) {
        const delay = chain.failed(error, false);
        if (delay === null) throw error;
        await this.sleep(delay);
      }
    }
  }

  /**
   * @internal A `Stream` of the events of `messages.create({ stream: true })`, reopened under the
   * chain while nothing was handed over. `onResponse` sees each attempt's 200.
   */
  async eventStream(
    chain: Chain,
    params: StreamParams,
    options: RequestOptions | undefined,
    onResponse?: (response: Response) => void,
  ): Promise<Stream<StreamEvent>> {
    const open = async (): Promise<Stream<StreamEvent>> => {
      const { data, response } = await this.client.messages.create({ ...params, stream: true }, options).withResponse();
      onResponse?.(response);
      return data;
    };
    let current = await this.attempts(chain, open);
    const controller = new AbortController();
    const sleepFor = (ms: number) => this.sleep(ms);
    const attempts = (): Promise<Stream<StreamEvent>> => this.attempts(chain, open);
    async function* events(): AsyncGenerator<StreamEvent> {
      let delivered = false;
      for (;;) {
        const attempt = current;
        // The caller aborts our controller; the attempt's request goes with it.
        const abort = () => attempt.controller.abort();
        controller.signal.addEventListener('abort', abort, { once: true });
        try {
          for await (const event of attempt) {
            delivered = true;
            yield event;
          }
        } catch (error) {
          const delay = chain.failed(error, delivered);
          if (delay === null) throw error;
          await sleepFor(delay);
          current = await attempts();
          continue;
        } finally {
          controller.signal.removeEventListener('abort', abort);
        }
        // An aborted stream ends quietly (as the SDK's does): the caller's choice, not reported.
        if (!attempt.controller.signal.aborted) chain.succeeded();
        return;
      }
    }
    return new Stream(() => events(), controller);
  }

  /** @internal */
  emit(event: ClaudewatchEvent): void {
    this.reporter.report(event);
    if (this.onEvent) {
      try {
        this.onEvent({ ...event });
      } catch (e) {
        console.error('claudewatch-retry: onEvent hook failed', e);
      }
    }
  }

  /** @internal */
  log(line: string, retried: boolean): void {
    if (retried) this.logger?.info(line);
    else this.logger?.warn(line);
  }
}

/** @internal The attempts of one call; every outcome is reported once: each retried attempt,
 * then one of `success`, `exhausted`, `failure`. */
export class Chain {
  attempt = 0;
  private backoffs = 0;
  private serverRetries = 0;
  private finished = false;

  constructor(
    private readonly owner: RetryingClient,
    private readonly model: string | undefined,
  ) {}

  begin(): void {
    this.attempt += 1;
  }

  /** The attempt threw `error`: milliseconds to wait before the next attempt, or `null` to let
   * the error reach the caller. `delivered`: the caller already has part of this attempt's
   * answer, so a retry would duplicate it and the chain gives up. */
  failed(error: unknown, delivered: boolean): number | null {
    const failure = classify(error);
    if (failure === null || this.finished) return null;
    let decision: Decision = this.owner.policy.decide(failure, this.attempt, this.backoffs, this.serverRetries);
    if (delivered && decision.outcome === 'retry') {
      decision = { outcome: 'exhausted', reason: 'events already reached the caller: a retry would repeat them' };
    }
    const then = decision.outcome === 'retry' ? `retry in ${Math.round(decision.delayMs)} ms` : decision.outcome;
    this.owner.log(
      `claudewatch-retry: ${this.owner.service} attempt ${this.attempt} failed: class=${failure.cls} stage=${failure.stage ?? '-'} ` +
        `status=${failure.status ?? '-'} type=${failure.errorType ?? '-'} code=${failure.errorCode ?? '-'} ` +
        `(${(error as Error)?.constructor?.name}): ${then} (${decision.reason})`,
      decision.outcome === 'retry',
    );
    this.report(decision.outcome, failure);
    if (decision.outcome !== 'retry') {
      this.finished = true;
      return null;
    }
    if (failure.cls === 'server_error') this.serverRetries += 1;
    else this.backoffs += 1;
    return decision.delayMs;
  }

  /** The call finished well (a stream: read to its end). */
  succeeded(): void {
    if (this.finished) return;
    this.finished = true;
    this.report('success', undefined);
  }

  private report(outcome: Outcome, failure: Failure | undefined): void {
    const event: ClaudewatchEvent = { service: this.owner.service, outcome, attempts: Math.min(this.attempt, 100) };
    if (failure !== undefined) {
      event.class = failure.cls;
      if (failure.status !== undefined) event.status = failure.status;
      if (failure.stage !== undefined && (failure.cls === 'connection' || failure.cls === 'timeout')) event.stage = failure.stage;
    }
    const label = modelLabel(this.model);
    if (label !== undefined) event.model = label;
    this.owner.emit(event);
  }
}

/**
 * The SDK's `MessageStream`, fed by a retried event stream: the same object for the caller
 * (`on(...)`, async iteration, `finalMessage()`, `abort()`), with the SDK's own event handling
 * and error wrapping, and attempts under the playbook behind it.
 */
export class RetryingMessageStream<ParsedT = null> extends MessageStream<ParsedT> {
  #response: Response | null = null;

  /** @internal */
  static start<ParsedT>(owner: RetryingClient, params: Anthropic.MessageStreamParams, options?: RequestOptions): RetryingMessageStream<ParsedT> {
    // Typed as the SDK's own `messages.stream()` hands them on (parsing `output_config` included).
    const base = params as unknown as ConstructorParameters<typeof MessageStream>[0] & StreamParams;
    const runner = new RetryingMessageStream<ParsedT>(base, { logger: owner.client.logger ?? console });
    for (const message of params.messages) runner._addMessageParam(message);
    const signal = options?.signal;
    if (signal) {
      if (signal.aborted) runner.controller.abort();
      signal.addEventListener('abort', () => runner.controller.abort(), { once: true });
    }
    const chain = new Chain(owner, params.model);
    runner._run(async () => {
      const events = await owner.eventStream(
        chain,
        base,
        { ...options, signal: runner.controller.signal },
        (response) => (runner.#response ??= response),
      );
      await runner._fromReadableStream(events.toReadableStream());
    });
    return runner;
  }

  protected override _connected(response: Response | null): void {
    super._connected(response ?? this.#response);
  }
}
