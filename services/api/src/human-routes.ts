import type { Clock, ConfigSource, Logger, Route } from '@burnrate/core';
import { linkSecretFrom } from '@burnrate/notify';
import type { Store } from '@burnrate/store';
import { actionLinkRoutes } from './action-links.ts';
import { type AnomalyPageDeps, anomalyPageRoute } from './anomaly-page.ts';
import { slackInteractionsRoute } from './slack-interactions.ts';
import { createSlackUserDirectory } from './slack-users.ts';
import type { StateRecorder } from './state-recorder.ts';

export interface HumanRoutesDeps {
  config: ConfigSource;
  store: Pick<Store, 'getAnomaly' | 'anomalyVersions' | 'listAnomalyStates' | 'listDeliveries'>;
  recorder: StateRecorder;
  clock: Clock;
  log: Logger;
  /**
   * The process environment, read once here: SLACK_SIGNING_SECRET (interactivity), SLACK_BOT_TOKEN
   * and SLACK_API_URL (users.info), BURNRATE_LINK_SECRET (signed links; start-up fails when it is
   * too short).
   */
  env: Readonly<Record<string, string | undefined>>;
  /** BURNRATE_API_TOKEN: when set, the anomaly page needs it or a view link from an email. */
  apiToken?: string | undefined;
  /** The web console's part of the anomaly page (console/index.ts), where this process serves the console. */
  console?: AnomalyPageDeps['console'];
}

export interface HumanRoutes {
  routes: Route[];
  /** For the ready line: whether each way in is on, and if not why. */
  status: Record<string, string>;
}

/**
 * The routes people act through outside the API: Slack's interactivity endpoint, the signed
 * action links of emails and the anomaly page. Each says at start whether it is on, and why not.
 */
export function humanRoutes(deps: HumanRoutesDeps): HumanRoutes {
  const log = deps.log.child({ component: 'human-routes' });
  const config = deps.config.current();
  const signingSecret = deps.env.SLACK_SIGNING_SECRET || undefined;
  const path = config.slack.interactions_path;

  const status: Record<string, string> = {};
  if (signingSecret) {
    status.slack_interactions = `on (${path})`;
    // The Slack app's Interactivity Request URL must be public_url + path.
    log.info(
      { path, requestUrl: config.public_url ? `${config.public_url.replace(/\/+$/, '')}${path}` : undefined },
      'Slack interactivity is on',
    );
  } else {
    status.slack_interactions = 'off (SLACK_SIGNING_SECRET not set)';
    log.info({ path }, 'Slack interactivity is off: SLACK_SIGNING_SECRET is not set, so button presses are answered 404');
  }

  const linkSecret = linkSecretFrom(deps.env);
  if (linkSecret) status.action_links = 'on';
  else {
    status.action_links = 'off (BURNRATE_LINK_SECRET not set)';
    log.info('action links are off: BURNRATE_LINK_SECRET is not set, so emails carry no Acknowledge / Snooze / Resolve links');
  }

  const users = createSlackUserDirectory({
    config: deps.config,
    log: deps.log,
    botToken: deps.env.SLACK_BOT_TOKEN || undefined,
    slackApiUrl: deps.env.SLACK_API_URL || undefined,
  });
  const routes: Route[] = [
    slackInteractionsRoute({
      config: deps.config,
      store: deps.store,
      recorder: deps.recorder,
      users,
      clock: deps.clock,
      log: deps.log,
      signingSecret,
    }),
    ...actionLinkRoutes({ config: deps.config, store: deps.store, recorder: deps.recorder, clock: deps.clock, log: deps.log, linkSecret }),
    anomalyPageRoute({ store: deps.store, clock: deps.clock, log: deps.log, linkSecret, apiToken: deps.apiToken, console: deps.console }),
  ];
  return { routes, status };
}
