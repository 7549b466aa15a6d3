import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { waitUntil } from './wait-until.ts';

/** One message the server accepted, parsed the way a mail client would show it. */
export interface ReceivedMail {
  /** Envelope sender (MAIL FROM). */
  from: string;
  /** Envelope recipients (RCPT TO), in the order the client gave them. */
  to: string[];
  /** Addresses in the To header. */
  toHeader: string[];
  subject: string;
  text: string;
  html: string;
  messageId: string;
  headers: Record<string, string>;
  raw: string;
  /** The user the client authenticated as, when it did. */
  user: string | undefined;
}

export interface SmtpServerOptions {
  /** When set, clients must authenticate with exactly these credentials. */
  auth?: { user: string; pass: string };
}

export interface TestSmtpServer {
  /** `smtp://127.0.0.1:PORT`, or with credentials when the server requires them. */
  url: string;
  port: number;
  messages: ReceivedMail[];
  /** Resolves with the first message (already received or still to come) that matches. */
  waitFor(predicate: (m: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  /**
   * Answers the next `n` transactions at MAIL FROM with `code` (a 4xx simulates an outage or
   * greylisting, a 5xx a permanent rejection), then accepts again.
   */
  failNext(n: number, code?: number, message?: string): void;
  /** Transactions refused by failNext so far. */
  readonly refused: number;
  close(): Promise<void>;
}

type SmtpError = Error & { responseCode?: number };

/**
 * A real SMTP server on 127.0.0.1 (port 0) that keeps what it receives. Plain text only: STARTTLS
 * is not offered, so nodemailer connects without TLS and sends AUTH in the clear, which is fine
 * on loopback.
 */
export async function startSmtpServer(options: SmtpServerOptions = {}): Promise<TestSmtpServer> {
  const messages: ReceivedMail[] = [];
  let failures: { remaining: number; code: number; message: string } = { remaining: 0, code: 451, message: '' };
  let refused = 0;
  const parseErrors: Error[] = [];

  const server = new SMTPServer({
    disabledCommands: options.auth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    authOptional: !options.auth,
    allowInsecureAuth: true,
    logger: false,
    // A reverse DNS lookup of 127.0.0.1 costs ~100 ms per connection and tells a test nothing.
    disableReverseLookup: true,
    onAuth(auth, _session, callback) {
      if (options.auth && auth.username === options.auth.user && auth.password === options.auth.pass) {
        callback(null, { user: auth.username });
        return;
      }
      const err: SmtpError = new Error('invalid username or password');
      err.responseCode = 535;
      callback(err);
    },
    onMailFrom(_address, _session, callback) {
      if (failures.remaining > 0) {
        failures.remaining -= 1;
        refused += 1;
        const err: SmtpError = new Error(failures.message);
        err.responseCode = failures.code;
        callback(err);
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        simpleParser(raw).then(
          (parsed) => {
            const toField = parsed.to === undefined ? [] : Array.isArray(parsed.to) ? parsed.to : [parsed.to];
            const headers: Record<string, string> = {};
            for (const line of parsed.headerLines) headers[line.key] = line.line.slice(line.key.length + 1).trim();
            messages.push({
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
              toHeader: toField.flatMap((a) => a.value.map((v) => v.address ?? '')).filter((a) => a !== ''),
              subject: parsed.subject ?? '',
              text: parsed.text ?? '',
              html: typeof parsed.html === 'string' ? parsed.html : '',
              messageId: parsed.messageId ?? '',
              headers,
              raw,
              user: typeof session.user === 'string' ? session.user : undefined,
            });
            callback();
          },
          (err: unknown) => {
            parseErrors.push(err as Error);
            callback(err as Error);
          },
        );
      });
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  const port = (server.server.address() as AddressInfo).port;
  const credentials = options.auth ? `${encodeURIComponent(options.auth.user)}:${encodeURIComponent(options.auth.pass)}@` : '';

  return {
    url: `smtp://${credentials}127.0.0.1:${port}`,
    port,
    messages,
    get refused() {
      return refused;
    },
    waitFor: (predicate, timeoutMs = 5_000) =>
      waitUntil(
        () => {
          const parseError = parseErrors[0];
          if (parseError) throw parseError;
          return messages.find(predicate);
        },
        { timeoutMs, message: `no received mail matched within ${timeoutMs} ms (got ${messages.length})` },
      ),
    failNext(n, code = 451, message = 'temporary local problem, try again later') {
      failures = { remaining: n, code, message };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
      }),
  };
}
