/**
 * The playbook's special cases on real sockets: spend limits, retry-after over the cap, errors
 * that are not the API's (the caller's abort, a bug: thrown untouched, never reported), a
 * reporter that never holds up the app however slow claudewatch is, and the package itself as
 * installed from its tarball.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, beforeEach, describe, it } from 'node:test';

import { APIUserAbortError } from '@anthropic-ai/sdk';
import { type ClaudewatchEvent, Reporter, RetryingClient, RetryPolicy, SEND_STAGE, type RetryingClientOptions } from 'claudewatch-retry';

import { FaultServer, PARAMS, sdkClient } from './harness.js';

let server: FaultServer;
before(async () => {
  server = await FaultServer.start();
});
after(() => server.stop());
beforeEach(() => server.reset());

function wrapped(events: ClaudewatchEvent[], reporter = new Reporter(server.url, { flushIntervalMs: 10 }), extra: Partial<RetryingClientOptions> = {}) {
  return new RetryingClient(sdkClient(server), {
    service: 'playbook',
    reporter,
    policy: new RetryPolicy({ initialDelayMs: 1, serverErrorDelayMs: 1 }),
    onEvent: (e) => events.push(e),
    ...extra,
  });
}

const outcomes = (events: ClaudewatchEvent[]) => events.map((e) => [e.outcome, e.class ?? null]);

describe('status answers', () => {
  const cases: [string, Record<string, unknown>, [string, string | null][], number][] = [
    ['enforced spend limit: never retried', { fault: 'status', status: 429, error_code: 'enforced_spend_limit_reached' }, [['failure', 'rate_limited']], 1],
    ['contract spend limit: never retried', { fault: 'status', status: 429, error_code: 'contract_spend_limit_reached' }, [['failure', 'rate_limited']], 1],
    ['ramp limit: retried after retry-after', { fault: 'status', status: 429, error_code: 'ramp_limit_exceeded', retry_after_ms: 5 }, [['retry', 'rate_limited'], ['success', null]], 2],
    ['a spend limit you set is a 400', { fault: 'status', status: 400, type: 'invalid_request_error' }, [['failure', 'client_error']], 1],
    ['retry-after over the cap: exhausted at once', { fault: 'status', status: 429, retry_after: 600 }, [['exhausted', 'rate_limited']], 1],
    ['retry-after under the cap: honoured', { fault: 'status', status: 429, retry_after_ms: 5 }, [['retry', 'rate_limited'], ['success', null]], 2],
    ['529', { fault: 'status', status: 529 }, [['retry', 'overloaded'], ['success', null]], 2],
    ['504', { fault: 'status', status: 504 }, [['retry', 'server_error'], ['success', null]], 2],
    ['401', { fault: 'status', status: 401 }, [['failure', 'auth']], 1],
  ];
  for (const [name, step, expected, requests] of cases) {
    it(name, async () => {
      await server.script(step, 'ok');
      const events: ClaudewatchEvent[] = [];
      const claude = wrapped(events);
      const result = await claude.messagesCreate(PARAMS).then(
        () => 'ok',
        (e: unknown) => e,
      );
      assert.equal(result === 'ok', expected.at(-1)![0] === 'success', String(result));
      assert.deepEqual(outcomes(events), expected);
      assert.equal((await server.log()).length, requests);
      assert.equal(events[0]!.status, step['status']);
      await claude.reporter.close();
    });
  }

  it('logs the retry-after that was over the cap', async () => {
    await server.script({ fault: 'status', status: 429, retry_after: 45 });
    const lines: string[] = [];
    const logger = { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m) };
    const claude = wrapped([], undefined, { logger, policy: new RetryPolicy({ maxDelayMs: 30_000 }) });
    await assert.rejects(claude.messagesCreate(PARAMS));
    assert.match(lines.join('\n'), /class=rate_limited .*exhausted \(retry-after 45 s is over the 30 s cap\)/);
  });
});

describe('errors that are not the API\'s', () => {
  it('a caller bug passes through unreported', async () => {
    const events: ClaudewatchEvent[] = [];
    const claude = wrapped(events);
    await assert.rejects(
      claude.call(async () => {
        throw new RangeError('a bug in the app');
      }),
      RangeError,
    );
    assert.deepEqual(events, []);
  });

  // Aborted before the headers, the SDK throws APIUserAbortError; aborted while it reads the body
  // of a non-streaming answer (after its retry loop), fetch's own DOMException AbortError.
  for (const [when, step, thrown] of [
    ['before the headers', { fault: 'stall', before_headers: true }, 'APIUserAbortError'],
    ['mid-body', { fault: 'stall' }, 'DOMException'],
  ] as const) {
    it(`the caller aborting a request ${when}: ${thrown}, unreported`, async () => {
      await server.script(step);
      const events: ClaudewatchEvent[] = [];
      const controller = new AbortController();
      const call = wrapped(events).messagesCreate(PARAMS, { signal: controller.signal });
      while ((await server.log()).length === 0) await new Promise((r) => setImmediate(r));
      controller.abort();
      const error = await call.then(() => null, (e: unknown) => e);
      assert.equal((error as Error)?.constructor.name, thrown, String(error));
      if (thrown === 'APIUserAbortError') assert.ok(error instanceof APIUserAbortError);
      assert.deepEqual(events, []);
    });
  }

  it('the caller aborting a stream helper: abort event, unreported', async () => {
    await server.script({ fault: 'stall', events: 2, seconds: 30 });
    const events: ClaudewatchEvent[] = [];
    const stream = wrapped(events).messagesStream(PARAMS);
    let seen = 0;
    const aborted = new Promise<unknown>((resolve) => stream.on('abort', resolve));
    stream.on('streamEvent', () => {
      if (++seen === 2) stream.abort();
    });
    assert.ok((await aborted) instanceof APIUserAbortError);
    await assert.rejects(stream.done(), APIUserAbortError);
    assert.deepEqual(events, []);
  });

  it('the caller breaking out of a raw stream: unreported', async () => {
    const events: ClaudewatchEvent[] = [];
    const stream = await wrapped(events).messagesCreate({ ...PARAMS, stream: true });
    for await (const event of stream) if (event.type === 'content_block_start') break;
    assert.deepEqual(events, []);
  });
});

describe('reporting', () => {
  it('never holds up the app while claudewatch does not answer', async () => {
    await server.ingest({ hold: true });
    const events: ClaudewatchEvent[] = [];
    const reporter = new Reporter(server.url, { flushIntervalMs: 1, maxBatch: 1 });
    const claude = wrapped(events, reporter);
    const calls = 20;
    for (let i = 0; i < calls; i++) await claude.messagesCreate(PARAMS);
    const held = await server.ingest();
    assert.ok(held.requests.length >= 1, 'the reporter did send');
    assert.equal(held.answered, 0, 'every call finished while claudewatch held the first batch');
    assert.equal(reporter.sent, 0);
    await server.ingest({ hold: false });
    assert.ok(await reporter.close(10_000));
    assert.equal(reporter.sent, calls);
    assert.equal(reporter.dropped, 0);
  });

  for (const sendStage of [false, true]) {
    it(`sends the stage only when switched on (sendStage: ${sendStage})`, async () => {
      await server.script('reset');
      const events: ClaudewatchEvent[] = [];
      const reporter = new Reporter(server.url, { flushIntervalMs: 10, sendStage });
      await wrapped(events, reporter).messagesCreate(PARAMS);
      assert.ok(await reporter.close(10_000));
      const sent = (await server.ingest()).requests.flatMap((r) => r.body.events);
      const retry = sent.find((e) => e['outcome'] === 'retry')!;
      assert.equal('stage' in retry, sendStage);
      assert.equal(events[0]!.stage, 'request', 'the app\'s own hook always sees it');
      assert.equal(SEND_STAGE, false, 'off until the daemon\'s ingest accepts `stage`');
    });
  }
});

describe('the installed package', () => {
  it('is the packed tarball, typed, versioned like the daemon, with the SDK as a peer', () => {
    const require = createRequire(import.meta.url);
    const manifest = JSON.parse(readFileSync(require.resolve('claudewatch-retry/package.json'), 'utf8'));
    assert.equal(manifest.version, process.env['CLAUDEWATCH_VERSION'], 'CLAUDEWATCH_VERSION is the daemon\'s Cargo.toml version');
    assert.equal(manifest.type, 'module');
    assert.equal(manifest.exports['.'].types, './dist/index.d.ts');
    assert.deepEqual(Object.keys(manifest.peerDependencies), ['@anthropic-ai/sdk']);
    assert.equal(manifest.dependencies, undefined);
    assert.ok(!require.resolve('claudewatch-retry/package.json').includes('clients/typescript/package.json'));
  });
});
