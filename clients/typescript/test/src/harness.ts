/**
 * The fault server (`clients/testing/faultserver.py`: raw sockets on 127.0.0.1) for the node:test
 * suites, and a driver that makes one call of each shape with the SDK or the wrapper. The
 * suites run against the packed `claudewatch-retry` tarball installed in this folder.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

import Anthropic from '@anthropic-ai/sdk';
import type { RetryingClient } from 'claudewatch-retry';
import { Agent } from 'undici';

export const PARAMS = {
  model: 'claude-fault-1',
  max_tokens: 16,
  messages: [{ role: 'user' as const, content: 'Reply with OK.' }],
};
/** Events the app sees in a whole stream (raw and helper iterate the same raw events). */
export const WHOLE = 7;

export type Mode = 'json' | 'raw' | 'helper';

export class FaultServer {
  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
  ) {}

  static async start(): Promise<FaultServer> {
    const script = process.env['CLAUDEWATCH_FAULT_SERVER'];
    if (!script) throw new Error('CLAUDEWATCH_FAULT_SERVER is not set: run through `cargo nextest run --test clients`');
    const child = spawn(process.env['PYTHON'] ?? 'python3', [script], { stdio: ['pipe', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`the fault server exited (${code})`)));
    });
    return new FaultServer(`http://127.0.0.1:${JSON.parse(line).port}`, child);
  }

  stop(): void {
    this.child.stdin?.end();
  }

  private async control(method: string, path: string, body?: unknown): Promise<any> {
    const response = await fetch(this.url + path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    return response.json();
  }

  script(...steps: unknown[]): Promise<unknown> {
    return this.control('POST', '/_script', steps);
  }

  async log(): Promise<{ seq: number; conn: number; conn_request: number; fault: string }[]> {
    return (await this.control('GET', '/_log')).requests;
  }

  reset(): Promise<unknown> {
    return this.control('POST', '/_reset');
  }

  async ingest(config?: { hold: boolean }): Promise<{ requests: { body: { events: Record<string, unknown>[] } }[]; answered: number }> {
    if (config) await this.control('PUT', '/_ingest', config);
    return this.control('GET', '/_ingest');
  }
}

/**
 * An SDK client without its own retries, so each call is one request. `oneConnection`: its
 * requests share one keep-alive socket (an undici `Agent` of the version Node 20's fetch
 * bundles, as the SDK's `fetchOptions.dispatcher`), so that the second request reuses the first's
 * connection; Node's shared pool does not promise which idle socket a request takes.
 */
export function sdkClient(server: FaultServer, timeout = 10_000, oneConnection = false): Anthropic {
  const fetchOptions = oneConnection ? { fetchOptions: { dispatcher: new Agent({ connections: 1 }) } } : {};
  return new Anthropic({ baseURL: server.url, apiKey: 'sk-ant-fault', maxRetries: 0, timeout, ...fetchOptions });
}

export interface Outcome {
  error?: unknown;
  events: number;
}

/** One call of `mode` through the SDK client or the wrapper; what the app saw. `warm`: one
 * plain call first, so that the next one reuses its keep-alive connection. */
export async function drive(client: Anthropic | RetryingClient, mode: Mode, warm = false): Promise<Outcome> {
  const wrapped = !(client instanceof Anthropic);
  const create = (stream: boolean): Promise<unknown> =>
    wrapped
      ? stream
        ? (client as RetryingClient).messagesCreate({ ...PARAMS, stream: true })
        : (client as RetryingClient).messagesCreate(PARAMS)
      : stream
        ? (client as Anthropic).messages.create({ ...PARAMS, stream: true })
        : (client as Anthropic).messages.create(PARAMS);
  if (warm) await create(false);
  const out: Outcome = { events: 0 };
  try {
    if (mode === 'json') {
      await create(false);
    } else if (mode === 'raw') {
      for await (const _ of (await create(true)) as AsyncIterable<unknown>) out.events += 1;
    } else {
      const stream = wrapped ? (client as RetryingClient).messagesStream(PARAMS) : (client as Anthropic).messages.stream(PARAMS);
      for await (const _ of stream) out.events += 1;
      await stream.finalMessage();
    }
  } catch (error) {
    out.error = error;
  }
  return out;
}

/** Constructor names of an error and its causes, and the innermost `code`. */
export function chainOf(error: unknown): { names: string[]; code: string | undefined } {
  const names: string[] = [];
  let code: string | undefined;
  for (let e = error; e instanceof Error; e = e.cause) {
    names.push(e.constructor.name);
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string') code = c;
  }
  return { names, code };
}
