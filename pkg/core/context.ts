import type { MessageContext } from './handlers.js';
import type { Session } from './session.js';

const contexts = new WeakMap<Session, MessageContext>();

/** The handler context of a session: one per connection, so middleware can keep facts in `state`. */
export function contextOf(session: Session): MessageContext {
  let context = contexts.get(session);
  if (!context) {
    context = {
      id: session.id, identity: session.identity, userId: session.identity?.userId ?? null, channels: session.channels,
      transport: session.transport.name, request: session.request, state: {},
    };
    contexts.set(session, context);
  }
  return context;
}
