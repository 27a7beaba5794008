/**
 * Runs calls through claudewatch-retry against an API (the simulator, say) and prints a JSON
 * tally of what the app saw and what it reported. tests/wrappers.rs uses it (compiled against the
 * packed tarball); it is also a demo:
 *
 *   claudewatch simulate --scenario econnreset-wave &   # the API, on 127.0.0.1:8089
 *   claudewatch --config config/claudewatch.toml &      # the daemon, on :9464
 *   npm install && npm run build && node dist/run-scenario.js --api-url http://127.0.0.1:8089 --calls 50 --mode helper
 *
 * --mode picks the call shape: json (messagesCreate), raw (messagesCreate with stream: true) or
 * helper (messagesStream and finalMessage()).
 */

import { parseArgs } from 'node:util';

import Anthropic from '@anthropic-ai/sdk';

import { Reporter, RetryingClient, RetryPolicy, classify } from 'claudewatch-retry';

const { values: args } = parseArgs({
  options: {
    'api-url': { type: 'string' },
    'daemon-url': { type: 'string', default: 'http://127.0.0.1:9464' },
    service: { type: 'string', default: 'demo-typescript' },
    model: { type: 'string', default: 'claude-sonnet-4-6' },
    calls: { type: 'string', default: '20' },
    duration: { type: 'string' },
    'api-key': { type: 'string', default: 'sim-key' },
    token: { type: 'string' },
    timeout: { type: 'string', default: '30', description: 'SDK timeout per attempt, seconds' },
    mode: { type: 'string', default: 'json' },
    fast: { type: 'boolean', default: false },
  },
});

async function main(): Promise<void> {
  const apiUrl = args['api-url'];
  if (!apiUrl) throw new Error('--api-url is required');
  const mode = args.mode;
  if (mode !== 'json' && mode !== 'raw' && mode !== 'helper') throw new Error(`--mode is json, raw or helper, not ${mode}`);
  const policy = args.fast
    ? new RetryPolicy({ initialDelayMs: 10, maxDelayMs: 2000, serverErrorDelayMs: 10 })
    : new RetryPolicy();
  const reporter = new Reporter(args['daemon-url'], {
    ...(args.token ? { token: args.token } : {}),
    flushIntervalMs: 200,
    timeoutMs: 2000,
    warn: (m) => console.error(m),
  });
  const apiKey = args['api-key'];
  const client = new Anthropic({
    apiKey,
    baseURL: apiUrl,
    timeout: Number(args.timeout) * 1000,
  });
  const events: Record<string, Record<string, number>> = {};
  const claude = new RetryingClient(client, {
    service: args.service,
    reporter,
    policy,
    onEvent: (e) => {
      const byClass = (events[e.outcome] ??= {});
      const cls = e.class ?? '-';
      byClass[cls] = (byClass[cls] ?? 0) + 1;
    },
  });

  let calls = 0;
  let succeeded = 0;
  const raised: Record<string, number> = {};
  const started = performance.now();
  const duration = args.duration === undefined ? Infinity : Number(args.duration) * 1000;
  for (let i = 0; i < Number(args.calls); i++) {
    if (performance.now() - started >= duration) break;
    calls += 1;
    const params = { model: args.model, max_tokens: 16, messages: [{ role: 'user' as const, content: 'Reply with OK.' }] };
    try {
      if (mode === 'json') {
        await claude.messagesCreate(params);
      } else if (mode === 'raw') {
        for await (const _ of await claude.messagesCreate({ ...params, stream: true })) {
          // the events themselves do not matter here
        }
      } else {
        await claude.messagesStream(params).finalMessage();
      }
      succeeded += 1;
    } catch (error) {
      const cls = classify(error)?.cls ?? (error instanceof Error ? error.constructor.name : 'unknown');
      raised[cls] = (raised[cls] ?? 0) + 1;
    }
  }
  const flushed = await reporter.close(10_000);
  console.log(
    JSON.stringify({
      calls,
      succeeded,
      raised,
      events,
      reporter: { flushed, sent: reporter.sent, dropped: reporter.dropped, failed_requests: reporter.failedRequests },
      seconds: Math.round(performance.now() - started) / 1000,
    }),
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
