/**
 * The retry playbook around the official `@anthropic-ai/sdk`, reporting to claudewatch.
 *
 * The SDK's own retries are switched off (`maxRetries: 0`); this wrapper decides per error class:
 *
 * | class          | what                                  | policy                                              |
 * | -------------- | ------------------------------------- | --------------------------------------------------- |
 * | `overloaded`   | 529, 503, `overloaded_error`          | backoff 1 s doubling to 60 s, ±20 % jitter, 5 tries |
 * | `connection`   | reset, refused, closed mid-body, DNS  | as overloaded                                       |
 * | `timeout`      | no answer within the client's timeout | as overloaded                                       |
 * | `rate_limited` | 429                                   | wait `retry-after`; else backoff; spend limit: no   |
 * | `server_error` | 500, 502, 504, other 5xx              | retry once after 5 s, then give up                  |
 * | `client_error` | 400 and other 4xx                     | never retried                                       |
 * | `auth`         | 401, 403                              | never retried                                       |
 * | `unexpected`   | a 2xx body the SDK could not read     | never retried                                       |
 *
 * Every failed attempt that will be retried, every retry chain that gives up, and every finished
 * call is reported to claudewatch's `POST /v1/events` by a {@link Reporter}, which batches in the
 * background with Node's built-in `fetch` and never blocks or fails the app's call. Past a bounded
 * buffer events are dropped and counted in {@link Reporter.dropped}.
 *
 * ```ts
 * import Anthropic from '@anthropic-ai/sdk';
 * import { Reporter, RetryingClient } from './claudewatch-retry.js';
 *
 * const reporter = new Reporter('http://claudewatch:9464', { token: process.env.CLAUDEWATCH_TOKEN });
 * const claude = new RetryingClient(new Anthropic(), { service: 'checkout-api', reporter });
 * const message = await claude.messagesCreate({ model: 'claude-sonnet-4-6', max_tokens: 256,
 *   messages: [{ role: 'user', content: 'Hello' }] });
 * ```
 *
 * Times are in milliseconds, as everywhere in JavaScript.
 */

import { randomUUID } from 'node:crypto';

import Anthropic from '@anthropic-ai/sdk';

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

export type Outcome = 'retry' | 'exhausted' | 'success' | 'failure';

/** One event in the `/v1/events` format. */
export interface ClaudewatchEvent {
  service: string;
  outcome: Outcome;
  class?: ErrorClass;
  status?: number;
  attempts?: number;
  model?: string;
  count?: number;
}

const BACKOFF_CLASSES: ReadonlySet<ErrorClass> = new Set(['overloaded', 'connection', 'timeout', 'rate_limited']);

/**
 * The playbook class of an error thrown by an SDK call, or `null` for one that is not the API's
 * (a bug in the caller's code, or the caller's own abort), which is rethrown and never reported.
 */
export function classify(error: unknown): ErrorClass | null {
  if (error instanceof Anthropic.APIUserAbortError) return null;
  if (error instanceof Anthropic.APIConnectionTimeoutError) return 'timeout';
  if (error instanceof Anthropic.APIConnectionError) return 'connection';
  if (error instanceof Anthropic.APIError && typeof error.status === 'number') {
    const status = error.status;
    if (error.type === 'overloaded_error' || status === 503 || status === 529) return 'overloaded';
    if (status === 429) return 'rate_limited';
    if (status === 401 || status === 403) return 'auth';
    if (status >= 500) return 'server_error';
    return 'client_error';
  }
  // fetch reports a connection that broke while the body was read as a TypeError
  // ("terminated", with the socket error as its cause).
  if (error instanceof TypeError && (error.message === 'terminated' || hasNetworkCause(error))) return 'connection';
  // A 2xx whose body is not JSON.
  if (error instanceof SyntaxError) return 'unexpected';
  return null;
}

function hasNetworkCause(error: Error): boolean {
  const cause = (error as { cause?: { code?: unknown } }).cause;
  const code = typeof cause?.code === 'string' ? cause.code : '';
  return code.startsWith('UND_ERR') || code.startsWith('ECONN') || code === 'EPIPE';
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === 'number' && status >= 100 && status <= 599 ? status : undefined;
}

/** Milliseconds the server asked us to wait: `retry-after-ms`, then `retry-after` as seconds or
 * as an HTTP date; `null` when absent or unreadable. */
export function retryAfterMs(error: unknown): number | null {
  const headers = (error as { headers?: unknown } | null)?.headers;
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

function isSpendLimit(error: unknown): boolean {
  return (error as { errorCode?: unknown } | null)?.errorCode === 'enforced_spend_limit_reached';
}

export type Decision = { outcome: 'retry'; delayMs: number } | { outcome: 'exhausted' | 'failure' };

/** When to retry, and after how long. Every delay is configurable (tests run fast). */
export class RetryPolicy {
  /** Attempts in one chain at most, the first included (the playbook's "5 tries"). */
  maxAttempts = 5;
  /** First backoff delay for overloaded, connection, timeout and a 429 without retry-after. */
  initialDelayMs = 1000;
  /** Backoff doubles up to this; a longer `retry-after` gives up instead of waiting. */
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
   * What to do after attempt `attempt` (1-based) failed with `cls`. `backoffs` and
   * `serverRetries` are the retries this chain already spent on backoff classes and on server
   * errors.
   */
  decide(cls: ErrorClass, attempt: number, backoffs: number, serverRetries: number, error: unknown): Decision {
    if (cls === 'server_error') {
      return serverRetries < this.serverErrorRetries && attempt < this.maxAttempts
        ? { outcome: 'retry', delayMs: this.serverErrorDelayMs }
        : { outcome: 'exhausted' };
    }
    if (!BACKOFF_CLASSES.has(cls)) return { outcome: 'failure' };
    if (cls === 'rate_limited') {
      if (isSpendLimit(error)) return { outcome: 'failure' };
      const wait = retryAfterMs(error);
      if (wait !== null && wait > 0) {
        return wait > this.maxDelayMs || attempt >= this.maxAttempts
          ? { outcome: 'exhausted' }
          : { outcome: 'retry', delayMs: wait };
      }
    }
    if (attempt >= this.maxAttempts) return { outcome: 'exhausted' };
    const base = Math.min(this.initialDelayMs * 2 ** backoffs, this.maxDelayMs);
    const jittered = base * (1 + (Math.random() * 2 - 1) * this.jitter);
    return { outcome: 'retry', delayMs: Math.max(0, jittered) };
  }
}

export interface RetryPolicyOptions {
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  jitter: number;
  serverErrorDelayMs: number;
  serverErrorRetries: number;
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
}

/**
 * Sends events to claudewatch in the background. {@link report} never blocks and never throws:
 * it appends to a bounded buffer, sent every `flushIntervalMs` or as soon as `maxBatch` events
 * wait, with identical events merged into one with a `count`. The timer is unref'd, so the
 * reporter never keeps a process alive; call {@link close} before exiting to send the rest.
 */
export class Reporter {
  readonly endpoint: string;
  /** Events dropped: buffer full, or their batch could not be delivered. */
  dropped = 0;
  /** Events the daemon accepted. */
  sent = 0;
  /** Requests to the daemon that failed (each resend counts). */
  failedRequests = 0;

  private readonly token: string | undefined;
  private readonly maxQueue: number;
  private readonly maxBatch: number;
  private readonly flushIntervalMs: number;
  private readonly timeoutMs: number;
  private readonly sendAttempts: number;
  private readonly resendDelayMs: number;
  private readonly warn: (message: string) => void;
  private buffer: ClaudewatchEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private closed = false;

  constructor(url = 'http://127.0.0.1:9464', options: ReporterOptions = {}) {
    this.endpoint = url.replace(/\/+$/, '') + '/v1/events';
    this.token = options.token;
    this.maxQueue = Math.max(1, options.maxQueue ?? 10_000);
    this.maxBatch = Math.max(1, options.maxBatch ?? 500);
    this.flushIntervalMs = options.flushIntervalMs ?? 1000;
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.sendAttempts = Math.max(1, options.sendAttempts ?? 3);
    this.resendDelayMs = options.resendDelayMs ?? 500;
    this.warn = options.warn ?? ((m) => console.warn(m));
  }

  /** Queues one event. Never blocks, never throws. */
  report(event: ClaudewatchEvent): void {
    if (this.closed || this.buffer.length >= this.maxQueue) {
      this.dropped += 1;
      return;
    }
    this.buffer.push(event);
    if (this.buffer.length >= this.maxBatch) {
      this.kick();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.kick();
      }, this.flushIntervalMs);
      this.timer.unref();
    }
  }

  /** Sends everything buffered; resolves `true` when nothing is left to send (delivered or
   * dropped) within `timeoutMs`. */
  async flush(timeoutMs = 5000): Promise<boolean> {
    const drained = (async () => {
      while (this.buffer.length > 0 || this.sending !== undefined) {
        this.kick();
        await this.sending;
      }
      return true;
    })();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([drained, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Flushes, then drops whatever is reported afterwards. */
  async close(timeoutMs = 5000): Promise<boolean> {
    const done = await this.flush(timeoutMs);
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    return done;
  }

  /** Starts sending a batch unless a send is in progress (which starts the next one itself). */
  private kick(): void {
    if (this.sending !== undefined || this.buffer.length === 0) return;
    const batch = this.buffer.splice(0, this.maxBatch);
    this.sending = this.deliver(batch)
      .then(
        (ok) => {
          if (ok) this.sent += batch.length;
          else this.dropped += batch.length;
        },
        () => {
          this.dropped += batch.length;
        },
      )
      .finally(() => {
        this.sending = undefined;
        if (this.buffer.length >= this.maxBatch) this.kick();
        else if (this.buffer.length > 0 && this.timer === undefined && !this.closed) {
          this.timer = setTimeout(() => {
            this.timer = undefined;
            this.kick();
          }, this.flushIntervalMs);
          this.timer.unref();
        }
      });
  }

  private async deliver(batch: ClaudewatchEvent[]): Promise<boolean> {
    const body = JSON.stringify({ events: aggregate(batch) });
    const headers: Record<string, string> = { 'content-type': 'application/json', 'idempotency-key': randomUUID() };
    if (this.token) headers['authorization'] = `Bearer ${this.token}`;
    for (let attempt = 1; attempt <= this.sendAttempts; attempt++) {
      try {
        const response = await fetch(this.endpoint, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        const text = await response.text();
        if (response.ok) return true;
        this.failedRequests += 1;
        if (response.status < 500 && response.status !== 429) {
          // The daemon refused the batch itself: a resend cannot fix it.
          this.warn(`claudewatch refused ${batch.length} events (${response.status}): ${text.slice(0, 500)}`);
          return false;
        }
      } catch {
        this.failedRequests += 1;
      }
      if (attempt < this.sendAttempts) await sleep(this.resendDelayMs, true);
    }
    this.warn(`claudewatch unreachable at ${this.endpoint}; ${batch.length} events dropped`);
    return false;
  }
}

/** Merges identical events into one with their summed `count`. */
function aggregate(batch: ClaudewatchEvent[]): ClaudewatchEvent[] {
  const merged = new Map<string, ClaudewatchEvent>();
  for (const event of batch) {
    const { count = 1, ...rest } = event;
    const key = JSON.stringify(Object.entries(rest).sort(([a], [b]) => (a < b ? -1 : 1)));
    const seen = merged.get(key);
    if (seen) seen.count = (seen.count ?? 1) + count;
    else merged.set(key, { ...rest, count });
  }
  return [...merged.values()];
}

function sleep(ms: number, unref = false): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    if (unref) t.unref();
  });
}

const NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

/** A service name as claudewatch takes it; throws on a config mistake (better at start-up than
 * losing every event). */
export function checkService(service: string): string {
  if (!NAME.test(service) || service === 'other') {
    throw new RangeError(`service must be 1-64 characters of A-Za-z0-9_.:- (and not 'other'), got ${JSON.stringify(service)}`);
  }
  return service;
}

/** A model id as a claudewatch label: other characters become `_`, cut to 64 characters, so
 * that one odd id never gets a whole batch refused. */
export function modelLabel(model: unknown): string | undefined {
  if (typeof model !== 'string' || model === '') return undefined;
  const label = model.replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, 64);
  return label === 'other' ? 'other_' : label;
}

export interface RetryingClientOptions {
  /** The app's name in claudewatch (1–64 characters of `A-Za-z0-9_.:-`). */
  service: string;
  reporter: Reporter;
  policy?: RetryPolicy;
  /** Injectable for tests. */
  sleep?: (ms: number) => Promise<void>;
  /** Sees every event as it is reported, for the app's own logs. */
  onEvent?: (event: ClaudewatchEvent) => void;
}

/** Runs calls through the playbook and reports what happens. The last attempt's error reaches
 * the caller unchanged. */
export class RetryingClient {
  readonly client: Anthropic;
  readonly service: string;
  readonly reporter: Reporter;
  readonly policy: RetryPolicy;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly onEvent: ((event: ClaudewatchEvent) => void) | undefined;

  constructor(client: Anthropic, options: RetryingClientOptions) {
    this.client = client.maxRetries === 0 ? client : client.withOptions({ maxRetries: 0 });
    this.service = checkService(options.service);
    this.reporter = options.reporter;
    this.policy = options.policy ?? new RetryPolicy();
    this.sleep = options.sleep ?? ((ms) => sleep(ms));
    this.onEvent = options.onEvent;
  }

  /** `client.messages.create(params)` (non-streaming) under the playbook. */
  messagesCreate(params: Anthropic.MessageCreateParamsNonStreaming): Promise<Anthropic.Message> {
    return this.call(() => this.client.messages.create(params), { model: params.model });
  }

  /** Runs `fn` (one API call with the SDK) under the playbook. */
  async call<T>(fn: () => Promise<T>, options: { model?: string } = {}): Promise<T> {
    let backoffs = 0;
    let serverRetries = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await fn();
        this.emit('success', undefined, undefined, attempt, options.model);
        return result;
      } catch (error) {
        const cls = classify(error);
        if (cls === null) throw error;
        const decision = this.policy.decide(cls, attempt, backoffs, serverRetries, error);
        this.emit(decision.outcome, cls, error, attempt, options.model);
        if (decision.outcome !== 'retry') throw error;
        if (cls === 'server_error') serverRetries += 1;
        else backoffs += 1;
        await this.sleep(decision.delayMs);
      }
    }
  }

  private emit(outcome: Outcome, cls: ErrorClass | undefined, error: unknown, attempts: number, model: string | undefined): void {
    const event: ClaudewatchEvent = { service: this.service, outcome, attempts: Math.min(attempts, 100) };
    if (cls !== undefined) event.class = cls;
    const status = error === undefined ? undefined : statusOf(error);
    if (status !== undefined) event.status = status;
    const label = modelLabel(model);
    if (label !== undefined) event.model = label;
    this.reporter.report(event);
    if (this.onEvent) {
      try {
        this.onEvent({ ...event });
      } catch (e) {
        console.error('claudewatch-retry: onEvent hook failed', e);
      }
    }
  }
}
