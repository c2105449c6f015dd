import { useChannel, useConnectionState, useLiveUpdate, usePresence } from 'livehub/react';
import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { toChatMessage, type ChatMessage } from '../messages.js';
import { PAGE_MESSAGES } from '../timing.js';

export interface Position { offset: number; epoch: string }
type MemberInfo = { name?: string; client?: string } | undefined;

const CHANNEL = 'chat';
const PRESENCE = 'presence-chat';
const TYPING = 'typing:chat';

/** Inserts in stream order (offset), once per id. */
function withMessage(list: ChatMessage[], message: ChatMessage): ChatMessage[] {
  if (list.some((m) => m.id === message.id)) return list;
  let at = list.length;
  while (at > 0 && list[at - 1]!.offset > message.offset) at--;
  return [...list.slice(0, at), message, ...list.slice(at)];
}

/** The chat in React: messages on `chat`, who is online on `presence-chat`, typing on `typing:chat`. */
export function Chat({ author, history, position }: { author: string; history: ChatMessage[]; position: Position }) {
  const [messages, setMessages] = useState(() => history.reduce(withMessage, [] as ChatMessage[]));
  const { status, connected, stale } = useConnectionState();
  const { getClient } = useLiveUpdate();
  const [failure, setFailure] = useState('');

  // After a gap, live messages wait here until the list is replaced from the server.
  const arrivedSinceGap = useRef<ChatMessage[] | null>(null);
  // Live from where the history ended. A gap: the server could not replay what this page missed (it
  // was away longer than the history covers). The page replaces its list with the server's latest
  // messages, keeps what arrived live since, and shows `gap` until the user dismisses it.
  const { gap, clearGap, error: chatError } = useChannel(CHANNEL, (_data, message) => {
    const chat = toChatMessage(message);
    if (!chat) return;
    if (arrivedSinceGap.current) arrivedSinceGap.current.push(chat);
    else setMessages((list) => withMessage(list, chat));
  }, {
    since: position,
    onGap: () => {
      arrivedSinceGap.current = []; // what came before this gap is in what the server sends
      void replaceFromServer();
    },
  });

  const reloads = useRef(0);
  useEffect(() => () => { reloads.current++; }, []);
  async function replaceFromServer(attempt = 0): Promise<void> {
    const mine = ++reloads.current;
    try {
      const response = await fetch('/messages', { headers: { Accept: 'application/json' } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const body = await response.json() as { messages: ChatMessage[] };
      if (mine !== reloads.current) return; // a newer gap started another reload
      const live = arrivedSinceGap.current ?? [];
      arrivedSinceGap.current = null;
      setMessages([...body.messages, ...live].reduce(withMessage, [] as ChatMessage[]));
    } catch (error) {
      if (mine !== reloads.current) return;
      setFailure(`Could not reload the messages: ${(error as Error).message}; retrying`);
      setTimeout(() => { if (mine === reloads.current) void replaceFromServer(attempt + 1); }, Math.min(30_000, 1000 * 2 ** attempt));
    }
  }

  const { members, error: presenceError } = usePresence(PRESENCE);
  // A refusal of either channel (the server's policy) says why, instead of an empty list.
  const refusal = chatError ?? presenceError;
  const online = members.map((m) => (m.info as MemberInfo)?.name ?? m.userId);
  const membersRef = useRef(members);
  membersRef.current = members;

  // Typing: the server stamps who (`from`); an anonymous typist's name comes from presence.
  const [typing, setTyping] = useState<ReadonlyMap<string, number>>(new Map());
  useChannel(TYPING, (_data, message) => {
    const client = message.from?.client;
    const member = membersRef.current.find((m) => (m.info as MemberInfo)?.client === client);
    const who = message.from?.user ?? (member?.info as MemberInfo)?.name;
    if (!who) return;
    setTyping((current) => {
      const next = new Map(current);
      if (message.type === 'typing_start') next.set(who, Date.now() + 5000);
      else next.delete(who);
      return next;
    });
  });
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const clock = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(clock);
  }, []);
  const typists = useMemo(() => [...typing].filter(([who, until]) => until > now && who !== author).map(([who]) => who), [typing, now, author]);

  const typingSent = useRef(0);
  const typingStop = useRef<ReturnType<typeof setTimeout>>(undefined);
  function stopTyping() {
    clearTimeout(typingStop.current);
    if (!typingSent.current || !connected) return;
    typingSent.current = 0;
    getClient().send('chat:typing', false);
  }
  function onTyping() {
    if (!connected) return; // typing is live only: never queued
    if (Date.now() - typingSent.current > 2000) {
      typingSent.current = Date.now();
      getClient().send('chat:typing', true); // the server tells everyone but this page
    }
    clearTimeout(typingStop.current);
    typingStop.current = setTimeout(stopTyping, 3000);
  }
  useEffect(() => () => clearTimeout(typingStop.current), []);

  const [body, setBody] = useState('');
  async function send(event: FormEvent) {
    event.preventDefault();
    const text = body.trim();
    if (!text) return;
    setFailure('');
    stopTyping();
    setBody('');
    try {
      // The server's chat:send handler stamps the author this connection declared (?name=).
      await getClient().request('chat:send', { id: crypto.randomUUID(), body: text });
    } catch (error) {
      setFailure(`Not sent: ${(error as Error).message}`);
    }
  }

  return (
    <main>
      <header>
        <h1>livehub chat (React)</h1>
        <span className="status" data-testid="status" data-status={status} data-stale={stale}>
          {stale ? 'Checking connection…' : connected ? 'Connected' : status === 'closed' ? 'Disconnected' : 'Reconnecting…'}
        </span>
      </header>
      <p className="who">You are <strong data-testid="me">{author}</strong></p>
      <p className="online" data-testid="online">Online: {online.join(', ') || '—'}</p>
      {gap && (
        <p className="skipped" role="status" data-testid="gap-notice">
          Some messages were missed while this page was away and could not be replayed: showing the latest {PAGE_MESSAGES} from the server.
          {' '}<button type="button" onClick={clearGap}>OK</button>
        </p>
      )}
      <ol className="messages" data-testid="messages">
        {messages.map((message) => (
          <li key={message.id} data-testid="message">
            <strong>{message.author}</strong> <span>{message.body}</span>
          </li>
        ))}
      </ol>
      <form onSubmit={send}>
        <input name="body" aria-label="Message" placeholder="Say something" autoComplete="off" maxLength={2000}
          value={body} onChange={(e) => { setBody(e.target.value); onTyping(); }} />
        <button type="submit" disabled={!body.trim()}>Send</button>
      </form>
      <p className="typing" data-testid="typing">{typists.length ? `${typists.join(', ')} ${typists.length > 1 ? 'are' : 'is'} typing…` : ''}</p>
      {failure && <p className="failure" role="alert">{failure}</p>}
      {refusal && <p className="failure" role="alert" data-testid="refusal">{refusal.message}</p>}
    </main>
  );
}
