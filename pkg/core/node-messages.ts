import { LivehubError } from './report.js';

/**
 * What nodes tell each other through the engine's node messages (`Engine.send`): close a user's
 * connections (to every node), or a transport's message under its topic (to one node, such as a
 * command for one of its SSE streams POSTed to another node). JSON text, read back with every
 * field checked: a message from a node of another version, or garbage, is refused with a reason.
 */
export type NodeMessage =
  | { kind: 'disconnect-user'; userId: string; reason: string }
  | { kind: 'topic'; topic: string; data: string };

export function encodeNodeMessage(message: NodeMessage): string {
  return JSON.stringify(message);
}

/** The message `text` holds; throws a LivehubError (code `bad_node_message`) saying what is wrong with it. */
export function decodeNodeMessage(text: string): NodeMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new LivehubError('bad_node_message', `livehub: a node message is not JSON (${(error as Error).message})`);
  }
  const m = (value ?? {}) as Record<string, unknown>;
  if (m.kind === 'disconnect-user' && typeof m.userId === 'string' && typeof m.reason === 'string') {
    return { kind: 'disconnect-user', userId: m.userId, reason: m.reason };
  }
  if (m.kind === 'topic' && typeof m.topic === 'string' && typeof m.data === 'string') {
    return { kind: 'topic', topic: m.topic, data: m.data };
  }
  throw new LivehubError('bad_node_message', `livehub: a node message of unknown shape (${text.slice(0, 80)})`);
}
