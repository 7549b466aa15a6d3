import { type HttpFailure, type ReceivedRequest, startHttpStandIn } from './http-stand-in.ts';
import { waitUntil } from './wait-until.ts';

/** An Adaptive Card Teams accepted, with the request it came in. */
export interface MsTeamsCard {
  card: Record<string, unknown>;
  /** Every `text` in the card (TextBlocks, TextRuns, facts, action titles), in order. */
  texts: string[];
  /** The ids of the card's elements (Burnrate puts the message identity there). */
  ids: string[];
  /** Action.OpenUrl targets: the card's actions, and elements that open a URL when tapped (selectAction). */
  urls: string[];
}

export interface MsTeamsStandInOptions {
  /**
   * `incoming-webhook` (the Office 365 connector: 200 with body `1`, and a refusal as a 200 whose
   * body says `Microsoft Teams endpoint returned HTTP error <status>`) or `workflow` (a Workflows
   * webhook trigger: 202, and real statuses). Default incoming-webhook.
   */
  kind?: 'incoming-webhook' | 'workflow';
}

export interface MsTeamsStandIn {
  /** The webhook URL; its path carries a token, as a real one does. */
  url: string;
  requests: ReceivedRequest[];
  cards: MsTeamsCard[];
  failNext(n: number, failure: HttpFailure): void;
  /** The next `n` posts answer like an incoming webhook that Teams refused with `status`: HTTP 200 and the error in the body. */
  refuseInBodyNext(n: number, status: number): void;
  waitFor(predicate: (c: MsTeamsCard) => boolean, timeoutMs?: number): Promise<MsTeamsCard>;
  close(): Promise<void>;
}

// What Teams takes from a webhook, about 28 KB.
const MAX_BYTES = 28 * 1024;
const ELEMENT_TYPES = new Set([
  'TextBlock',
  'RichTextBlock',
  'TextRun',
  'Container',
  'ColumnSet',
  'Column',
  'FactSet',
  'Image',
  'ImageSet',
  'ActionSet',
  'Table',
  'TableRow',
  'TableCell',
]);
const ACTION_TYPES = new Set(['Action.OpenUrl', 'Action.ShowCard', 'Action.ToggleVisibility', 'Action.Execute', 'Action.Submit']);

/**
 * A local stand-in for a Microsoft Teams incoming webhook or Workflows webhook URL that holds each
 * post to the documented shape: JSON, at most ~28 KB, `{ type: 'message', attachments: [{
 * contentType: 'application/vnd.microsoft.card.adaptive', content: <AdaptiveCard> }] }` with the
 * card's `type` `AdaptiveCard`, a `version` Teams renders (at most 1.5), a `body` of known element
 * types whose `text` fields are strings, and actions of known types with their `url` / `title`.
 * A bad post answers 400 (a workflow) or 200 with the refusal in the body (an incoming webhook);
 * one over the size limit 413 likewise.
 */
export async function startMsTeamsStandIn(options: MsTeamsStandInOptions = {}): Promise<MsTeamsStandIn> {
  const kind = options.kind ?? 'incoming-webhook';
  const cards: MsTeamsCard[] = [];
  let refusals: number[] = [];
  const path = '/webhookb2/6f1c2a9e-burnrate-test@tenant/IncomingWebhook/0d4f7c/token-abc123';
  const refuse = (status: number, problems: string[]) =>
    kind === 'incoming-webhook'
      ? {
          status: 200,
          body: `Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error ${status} with ContextId tcid=0,server=stand-in`,
          problems,
        }
      : {
          status,
          body: JSON.stringify({
            error: { code: status === 413 ? 'RequestEntityTooLarge' : 'InvalidRequestContent', message: problems.join('; ') },
          }),
          problems,
        };
  const standIn = await startHttpStandIn((req) => {
    if (req.method !== 'POST' || req.path !== path) return { status: 404, body: 'not found' };
    const refusal = refusals.shift();
    if (refusal !== undefined) return refuse(refusal, [`refused with ${refusal} on request`]);
    if (req.bytes > MAX_BYTES) return refuse(413, [`the message is ${req.bytes} bytes; the limit is about 28 KB`]);
    if (!req.headers['content-type']?.startsWith('application/json')) return refuse(400, ['content-type must be application/json']);
    const problems: string[] = [];
    const card = messageCard(req.json, problems);
    if (!card || problems.length > 0) return refuse(400, problems);
    cards.push(card);
    return kind === 'incoming-webhook' ? { status: 200, body: '1' } : { status: 202, body: '' };
  });
  return {
    url: `${standIn.origin}${path}`,
    requests: standIn.requests,
    cards,
    failNext: standIn.failNext,
    refuseInBodyNext(n, status) {
      refusals = [...refusals, ...Array<number>(n).fill(status)];
    },
    waitFor: (predicate, timeoutMs = 5_000) =>
      waitUntil(() => cards.find(predicate), { timeoutMs, message: `no Teams card matched within ${timeoutMs} ms (got ${cards.length})` }),
    close: standIn.close,
  };
}

function messageCard(json: unknown, problems: string[]): MsTeamsCard | undefined {
  const message = json as { type?: unknown; attachments?: unknown } | undefined;
  if (typeof message !== 'object' || message === null) {
    problems.push('the body is not a JSON object');
    return undefined;
  }
  if (message.type !== 'message') problems.push('type must be "message"');
  if (!Array.isArray(message.attachments) || message.attachments.length !== 1) {
    problems.push('attachments must hold one card');
    return undefined;
  }
  const attachment = message.attachments[0] as { contentType?: unknown; content?: unknown };
  if (attachment.contentType !== 'application/vnd.microsoft.card.adaptive')
    problems.push('attachments[0].contentType must be application/vnd.microsoft.card.adaptive');
  const card = attachment.content as Record<string, unknown> | undefined;
  if (typeof card !== 'object' || card === null) {
    problems.push('attachments[0].content must be an Adaptive Card');
    return undefined;
  }
  if (card.type !== 'AdaptiveCard') problems.push('content.type must be "AdaptiveCard"');
  if (typeof card.version !== 'string' || !/^1\.[0-5]$/.test(card.version)) problems.push('content.version must be 1.0 to 1.5');
  if (!Array.isArray(card.body) || card.body.length === 0) problems.push('content.body must be a non-empty array');
  const found: MsTeamsCard = { card, texts: [], ids: [], urls: [] };
  const visit = (element: unknown, at: string): void => {
    const e = element as Record<string, unknown>;
    if (typeof e !== 'object' || e === null || typeof e.type !== 'string') return void problems.push(`${at} has no type`);
    if (!ELEMENT_TYPES.has(e.type)) return void problems.push(`${at}: unknown element type ${e.type}`);
    if (typeof e.id === 'string') found.ids.push(e.id);
    if (e.type === 'TextBlock' || e.type === 'TextRun') {
      if (typeof e.text !== 'string') problems.push(`${at}.text must be a string`);
      else found.texts.push(e.text);
    }
    if (e.selectAction !== undefined) {
      // A TextRun or container may open a URL when tapped; Action.ShowCard is not allowed there.
      const action = e.selectAction as Record<string, unknown> | null;
      if (typeof action !== 'object' || action === null || action.type !== 'Action.OpenUrl' || typeof action.url !== 'string')
        problems.push(`${at}.selectAction must be an Action.OpenUrl with a url`);
      else if (!/^https?:\/\//.test(action.url)) problems.push(`${at}.selectAction.url must be a URL`);
      else found.urls.push(action.url);
    }
    if (e.type === 'RichTextBlock') {
      if (!Array.isArray(e.inlines)) problems.push(`${at}.inlines must be an array`);
      else e.inlines.forEach((inline, i) => visit(inline, `${at}.inlines[${i}]`));
    }
    for (const key of ['items', 'columns'] as const) {
      const children = e[key];
      if (children !== undefined) {
        if (!Array.isArray(children)) problems.push(`${at}.${key} must be an array`);
        else children.forEach((child, i) => visit(child, `${at}.${key}[${i}]`));
      }
    }
  };
  if (Array.isArray(card.body)) card.body.forEach((e, i) => visit(e, `body[${i}]`));
  if (card.actions !== undefined) {
    if (!Array.isArray(card.actions)) problems.push('content.actions must be an array');
    else
      card.actions.forEach((a: unknown, i) => {
        const action = a as Record<string, unknown>;
        if (typeof action?.type !== 'string' || !ACTION_TYPES.has(action.type)) problems.push(`actions[${i}]: unknown action type`);
        if (typeof action?.title !== 'string') problems.push(`actions[${i}].title must be a string`);
        else found.texts.push(action.title);
        if (action?.type === 'Action.OpenUrl') {
          if (typeof action.url !== 'string' || !/^https?:\/\//.test(action.url)) problems.push(`actions[${i}].url must be a URL`);
          else found.urls.push(action.url);
        }
      });
  }
  return found;
}
