/**
 * A streaming app under the playbook: two lines wrap the client.
 *
 *   claudewatch simulate --scenario econnreset-wave &   # the API, on 127.0.0.1:8089
 *   claudewatch &                                       # the daemon, on :9464
 *   npm install && npm run build && node dist/stream.js http://127.0.0.1:8089
 */

import Anthropic from '@anthropic-ai/sdk';
import { Reporter, RetryingClient } from 'claudewatch-retry';

const reporter = new Reporter(process.env['CLAUDEWATCH_URL'] ?? 'http://127.0.0.1:9464');
const claude = new RetryingClient(new Anthropic({ baseURL: process.argv[2] ?? 'http://127.0.0.1:8089', apiKey: 'sim-key' }), {
  service: 'stream-demo',
  reporter,
});

const stream = claude.messagesStream({ model: 'claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user', content: 'Say hello.' }] });
stream.on('text', (text) => process.stdout.write(text));
try {
  await stream.finalMessage();
  process.stdout.write('\n');
} finally {
  await reporter.close();
}
