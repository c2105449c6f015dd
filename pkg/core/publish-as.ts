/**
 * A transport's publish on behalf of a connection (`TransportHost.publish`), also after it closed:
 * what an MQTT last will needs. The channel policy decides as it does for the connection's own
 * publish; a refusal is logged and rejected with code `forbidden`, never dropped silently.
 */
import { isValidTags, type StreamPosition } from '../protocol/index.js';
import type { ResolvedHubOptions } from './options.js';
import { decide, refusalReason, type Action } from './policy.js';
import { checkChannel, checkType, type Publisher } from './publisher.js';
import { LivehubError, type Reporter } from './report.js';
import type { PublishAs } from './transport.js';

/** What a publish on behalf of a connection needs of the hub's core. */
export interface PublishAsHost {
  readonly options: ResolvedHubOptions;
  readonly reporter: Reporter;
  readonly publisher: Publisher;
}

export async function publishAs(core: PublishAsHost, channel: string, type: string, dataJson: string, as: PublishAs): Promise<StreamPosition> {
  checkChannel(channel);
  checkType(type);
  const { identity, request, clientId, tags, exceptSelf } = as;
  if (typeof clientId !== 'string' || clientId.length === 0) throw new TypeError('livehub: host.publish needs the clientId of the connection it publishes for');
  if (exceptSelf !== undefined && typeof exceptSelf !== 'boolean') throw new TypeError('livehub: host.publish exceptSelf must be a boolean');
  if (tags !== undefined && !isValidTags(tags)) {
    throw new TypeError('livehub: tags must be an object of at most 16 tags: keys of A-Z a-z 0-9 _ -, string values of at most 256 characters');
  }
  let data: unknown;
  try {
    data = JSON.parse(dataJson);
  } catch {
    throw new TypeError('livehub: host.publish dataJson must be JSON text');
  }
  const { authorize, canPublish } = core.options;
  const allowed = await decide({ action: 'publish', channel, identity, clientId, request, type, event: type, data }, { authorize, canPublish },
    (error) => core.reporter.error(error, 'authorize_failed', `livehub: authorize threw for publish on ${channel}: ${error.message}; the request was denied`));
  if (!allowed) {
    const user = identity ? `user ${JSON.stringify(identity.userId)}` : 'an anonymous connection';
    const why = refusalReason({ action: 'publish', channel, identity }, { authorize, canPublish });
    core.reporter.report('warn', 'publish_refused', `livehub: refused a publish to ${channel} on behalf of ${user} (${clientId}): ${why}`, undefined, `publish_refused:${channel}`);
    throw new LivehubError('forbidden', `livehub: publishing to ${channel} is not allowed: ${why}`);
  }
  // Except-self as a client's own publish: the connection it is stamped from does not get it.
  const echo = exceptSelf === true ? { echo: false as const } : {};
  const from = identity === null ? { client: clientId, ...echo } : { user: identity.userId, client: clientId, ...echo };
  return core.publisher.publishJson(channel, type, dataJson, tags === undefined ? { from } : { from, tags });
}

/**
 * The channel policy's verdict on an action of a connection (`TransportHost.authorize`), as its own
 * subscribe or publish would get it: a refusal is logged with what would let it pass.
 */
export async function authorizeAs(core: PublishAsHost, action: Action, channel: string, as: Pick<PublishAs, 'identity' | 'request' | 'clientId'>): Promise<boolean> {
  checkChannel(channel);
  if (action !== 'subscribe' && action !== 'publish') throw new TypeError(`livehub: host.authorize action must be 'subscribe' or 'publish', got ${JSON.stringify(action)}`);
  const { identity, request, clientId } = as;
  const { authorize, canPublish } = core.options;
  const allowed = await decide({ action, channel, identity, clientId, request }, { authorize, canPublish },
    (error) => core.reporter.error(error, 'authorize_failed', `livehub: authorize threw for ${action} on ${channel}: ${error.message}; the request was denied`));
  if (!allowed) {
    const user = identity ? `user ${JSON.stringify(identity.userId)}` : 'an anonymous connection';
    const why = refusalReason({ action, channel, identity }, { authorize, canPublish });
    core.reporter.report('warn', `${action}_refused`, `livehub: refused a ${action} to ${channel} for ${user} (${clientId}): ${why}`, undefined, `${action}_refused:${channel}`);
  }
  return allowed;
}
