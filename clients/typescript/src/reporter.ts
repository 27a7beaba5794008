/**
 * The reporter: events to claudewatch's `POST /v1/events` in the background, never blocking or
 * failing the app. Node's built-in `fetch`; the timer is unref'd.
 */

import { randomUUID } from 'node:crypto';

import type { ErrorClass, Stage } from './classify.js';

/**
 * Whether reporters send the `stage` of connection and timeout failures by default. The ingest
 * endpoint refuses fields it does not know, and `stage` is not in its contract yet: switch this on
 * (or pass `sendStage: true`) once the daemon accepts it.
 */
export const SEND_STAGE = false;

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
  /** Whether events keep their `stage` on the wire (see {@link SEND_STAGE}). */
  readonly sendStage: boolean;
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
    this.sendStage = options.sendStage ?? SEND_STAGE;
  }

  /** Queues one event. Never blocks, never throws. */
  report(event: ClaudewatchEvent): void {
    if (!this.sendStage && event.stage !== undefined) {
      const { stage: _stage, ...rest } = event;
      event = rest;
    }
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

export function sleep(ms: number, unref = false): Promise<void> {
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
