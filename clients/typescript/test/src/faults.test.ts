/**
 * Every way a call really fails, on real sockets (the fault server), through the pinned SDK
 * (npm `@anthropic-ai/sdk` 1.14.0 on Node's fetch) alone and through the wrapper: what the SDK
 * throws, what the wrapper classifies, reports and retries. One row per socket behaviour and
 * call shape. A failure before the first event reached the app is retried (`retry`, then
 * `success`); after it, the wrapper reports `exhausted` and throws what the SDK threw, and sends
 * nothing again.
 */

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';

import { type ClaudewatchEvent, Reporter, RetryingClient, RetryPolicy } from 'claudewatch-retry';

import { FaultServer, type Mode, WHOLE, chainOf, drive, sdkClient } from './harness.js';

// What undici reports as the cause of a body cut by a RST varies from run to run: the socket's
// ECONNRESET, or its own "other side closed" when it saw the end first. A FIN is always the latter.
const RST = ['ECONNRESET', 'UND_ERR_SOCKET'];
const FIN = ['UND_ERR_SOCKET'];

interface Row {
  id: string;
  steps: unknown[];
  mode: Mode;
  /** Constructor names of the error and its causes that the SDK throws. */
  sdk: string[];
  /** The innermost cause's `code`, one of these (none for an API error). */
  codes?: string[];
  /** Events the app had seen when it was thrown. */
  delivered: number;
  cls: string;
  stage?: string;
  /** A plain call first, so that the faulted one reuses its keep-alive connection. */
  warm?: boolean;
}

const CONNECTION = ['APIConnectionError', 'TypeError', 'Error'];
const TERMINATED = ['TypeError'];
const HELPER_TERMINATED = ['AnthropicError', 'TypeError'];
const mid = (fault: string, events: number) => ({ fault, events });

const ROWS: Row[] = [
  { id: 'reset/json', steps: ['reset'], mode: 'json', sdk: CONNECTION, codes: ['ECONNRESET'], delivered: 0, cls: 'connection', stage: 'request' },
  { id: 'reset/raw', steps: ['reset'], mode: 'raw', sdk: CONNECTION, codes: ['ECONNRESET'], delivered: 0, cls: 'connection', stage: 'request' },
  { id: 'reset/helper', steps: ['reset'], mode: 'helper', sdk: CONNECTION, codes: ['ECONNRESET'], delivered: 0, cls: 'connection', stage: 'request' },
  // The body of a non-streaming answer is read after the SDK's retry loop: a raw TypeError.
  { id: 'reset_mid_body/json', steps: ['reset_mid_body'], mode: 'json', sdk: TERMINATED, codes: RST, delivered: 0, cls: 'connection', stage: 'body' },
  { id: 'close_mid_body/json', steps: ['close_mid_body'], mode: 'json', sdk: TERMINATED, codes: FIN, delivered: 0, cls: 'connection', stage: 'body' },
  { id: 'reset_mid_stream:2/raw', steps: [mid('reset_mid_stream', 2)], mode: 'raw', sdk: TERMINATED, codes: RST, delivered: 2, cls: 'connection', stage: 'body' },
  { id: 'reset_mid_stream:2/helper', steps: [mid('reset_mid_stream', 2)], mode: 'helper', sdk: HELPER_TERMINATED, codes: RST, delivered: 2, cls: 'connection', stage: 'body' },
  { id: 'reset_mid_stream:0/raw', steps: [mid('reset_mid_stream', 0)], mode: 'raw', sdk: TERMINATED, codes: RST, delivered: 0, cls: 'connection', stage: 'body' },
  { id: 'reset_mid_stream:0/helper', steps: [mid('reset_mid_stream', 0)], mode: 'helper', sdk: HELPER_TERMINATED, codes: RST, delivered: 0, cls: 'connection', stage: 'body' },
  { id: 'close_mid_stream:3/raw', steps: [mid('close_mid_stream', 3)], mode: 'raw', sdk: TERMINATED, codes: FIN, delivered: 3, cls: 'connection', stage: 'body' },
  { id: 'close_mid_stream:3/helper', steps: [mid('close_mid_stream', 3)], mode: 'helper', sdk: HELPER_TERMINATED, codes: FIN, delivered: 3, cls: 'connection', stage: 'body' },
  // A stall after the headers: the SDK's timeout (200 ms here) has ended with the headers, so
  // nothing fires until the server gives up after a second and resets: a connection failure.
  { id: 'stall/json', steps: [{ fault: 'stall', seconds: 1 }], mode: 'json', sdk: TERMINATED, codes: RST, delivered: 0, cls: 'connection', stage: 'body' },
  { id: 'stall:1/raw', steps: [{ fault: 'stall', events: 1, seconds: 1 }], mode: 'raw', sdk: TERMINATED, codes: RST, delivered: 1, cls: 'connection', stage: 'body' },
  { id: 'stall:1/helper', steps: [{ fault: 'stall', events: 1, seconds: 1 }], mode: 'helper', sdk: HELPER_TERMINATED, codes: RST, delivered: 1, cls: 'connection', stage: 'body' },
  // `event: error` in a 200 stream: an APIError without a status; its type decides.
  { id: 'stream_error:overloaded/raw', steps: [mid('stream_error', 2)], mode: 'raw', sdk: ['APIError'], delivered: 2, cls: 'overloaded' },
  { id: 'stream_error:overloaded/helper', steps: [mid('stream_error', 2)], mode: 'helper', sdk: ['APIError'], delivered: 2, cls: 'overloaded' },
  { id: 'stream_error:api_error/raw', steps: [{ fault: 'stream_error', events: 0, type: 'api_error' }], mode: 'raw', sdk: ['APIError'], delivered: 0, cls: 'server_error' },
  { id: 'stream_error:rate_limit/helper', steps: [{ fault: 'stream_error', events: 0, type: 'rate_limit_error' }], mode: 'helper', sdk: ['APIError'], delivered: 0, cls: 'rate_limited' },
  { id: 'reset_on_reuse/json', steps: ['ok', 'reset_on_reuse'], mode: 'json', sdk: CONNECTION, codes: ['ECONNRESET'], delivered: 0, cls: 'connection', stage: 'request', warm: true },
  { id: 'reset_on_reuse/raw', steps: ['ok', 'reset_on_reuse'], mode: 'raw', sdk: CONNECTION, codes: ['ECONNRESET'], delivered: 0, cls: 'connection', stage: 'request', warm: true },
  { id: 'reset_on_reuse/helper', steps: ['ok', 'reset_on_reuse'], mode: 'helper', sdk: CONNECTION, codes: ['ECONNRESET'], delivered: 0, cls: 'connection', stage: 'request', warm: true },
];

function assertSdkError(error: unknown, row: Row): void {
  const { names, code } = chainOf(error);
  assert.deepEqual(names.slice(0, row.sdk.length), row.sdk, String(error));
  if (row.codes) assert.ok(code !== undefined && row.codes.includes(code), `cause code ${code} of ${names}`);
  if (!row.stage) assert.equal((error as { status?: unknown }).status, undefined, 'no status on `event: error`');
}

let server: FaultServer;
before(async () => {
  server = await FaultServer.start();
});
after(() => server.stop());
beforeEach(() => server.reset());

describe('what the SDK throws', () => {
  for (const row of ROWS) {
    it(row.id, async () => {
      await server.script(...row.steps);
      const out = await drive(sdkClient(server, row.id.startsWith('stall') ? 200 : 10_000, row.warm), row.mode, row.warm);
      assertSdkError(out.error, row);
      assert.equal(out.events, row.delivered);
      if (row.warm) {
        const reused = (await server.log()).at(-1)!;
        assert.equal(reused.conn_request, 2, 'the reset came on the reused connection');
        assert.equal(reused.fault, 'reset');
      }
    });
  }
});

describe('what the wrapper makes of it', () => {
  for (const row of ROWS) {
    it(row.id, async () => {
      await server.script(...row.steps, 'ok');
      const events: ClaudewatchEvent[] = [];
      const reporter = new Reporter(server.url, { flushIntervalMs: 10 });
      const claude = new RetryingClient(sdkClient(server, 10_000, row.warm), {
        service: 'faults',
        reporter,
        policy: new RetryPolicy({ initialDelayMs: 1, serverErrorDelayMs: 1 }),
        onEvent: (e) => events.push(e),
      });
      const out = await drive(claude, row.mode, row.warm);
      assert.ok(await reporter.close(10_000));
      const reported = [...events];
      if (row.warm) assert.equal(events.shift()?.outcome, 'success');

      const fault: ClaudewatchEvent = { service: 'faults', outcome: 'retry', attempts: 1, class: row.cls as ClaudewatchEvent['class'] & string, model: 'claude-fault-1' };
      if (row.stage) fault.stage = row.stage as NonNullable<ClaudewatchEvent['stage']>;
      const requests = (await server.log()).slice(row.warm ? 1 : 0);
      if (row.delivered === 0) {
        assert.equal(out.error, undefined, String(out.error));
        assert.equal(out.events, row.mode === 'json' ? 0 : WHOLE);
        assert.deepEqual(events, [fault, { service: 'faults', outcome: 'success', attempts: 2, model: 'claude-fault-1' }]);
        assert.equal(requests.length, 2);
      } else {
        assertSdkError(out.error, row);
        assert.equal(out.events, row.delivered);
        assert.deepEqual(events, [{ ...fault, outcome: 'exhausted' }]);
        assert.equal(requests.length, 1, 'events had reached the app: never sent again');
      }
      // What reached the daemon: the same events, without `stage` (not in the ingest contract yet).
      const sent = (await server.ingest()).requests.flatMap((r) => r.body.events);
      assert.deepEqual(sent.map((e) => e['outcome']).sort(), reported.map((e) => e.outcome).sort());
      assert.ok(sent.every((e) => !('stage' in e)));
    });
  }
});
