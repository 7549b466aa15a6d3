// A local stand-in for Slack's Web API, to follow the README's on-call walkthrough without a
// Slack workspace: it accepts what Burnrate posts and edits, and prints each message as it
// arrives or changes. Usage: node infra/slack/local-slack.ts [port] (default 8790).
import { startSlackStandIn, type SlackCall } from '@burnrate/testing';

const port = Number(process.argv[2] ?? 8790);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`local-slack: the port must be a number from 1 to 65535, not ${JSON.stringify(process.argv[2])}`);
  process.exit(2);
}
const token = 'xoxb-local-trial-token';
const slack = await startSlackStandIn({ token, port });
console.log(`export SLACK_API_URL=${slack.url} SLACK_BOT_TOKEN=${token}`);
console.error(`local-slack: listening on ${slack.url}; Ctrl-C stops it`);

const blockText = (blocks: unknown): string =>
  (Array.isArray(blocks) ? blocks : [])
    .flatMap((b: { text?: { text?: string }; elements?: { text?: string }[]; fields?: { text?: string }[] }) => [
      b.text?.text,
      ...(b.elements ?? []).map((e) => e.text),
      ...(b.fields ?? []).map((f) => f.text),
    ])
    .filter((t): t is string => typeof t === 'string')
    .join('\n  ');

function show(call: SlackCall): void {
  const { args } = call;
  const when = new Date(call.at).toISOString().slice(11, 19);
  if (call.method === 'chat.postMessage') {
    const thread = typeof args.thread_ts === 'string' ? args.thread_ts : undefined;
    const where = `${String(args.channel)}${thread ? ` (reply in thread ${thread}${args.reply_broadcast ? ', also to the channel' : ''})` : ''}`;
    console.log(`\n${when} posted to ${where}:\n  ${blockText(args.blocks) || String(args.text)}`);
  } else if (call.method === 'chat.update') {
    console.log(`\n${when} updated ${String(args.channel)} message ${String(args.ts)}:\n  ${blockText(args.blocks) || String(args.text)}`);
  }
}

let seen = 0;
const timer = setInterval(() => {
  for (; seen < slack.calls.length; seen++) show(slack.calls[seen] as SlackCall);
}, 250);

const stop = async (): Promise<void> => {
  clearInterval(timer);
  await slack.close();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
