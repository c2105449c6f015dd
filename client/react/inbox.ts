import { useCallback, useLayoutEffect, useMemo, useRef, useSyncExternalStore } from 'react';
import type { HubMessage } from '../../pkg/protocol/index.js';
import { checkKnownOptions } from '../../pkg/options-check.js';
import { BoundStore } from '../core/bound-store.js';
import { NO_INBOX, type Inbox, type InboxOptions, type InboxState } from '../core/inbox.js';
import type { ReactShape } from '../core/shapes.js';
import { useClientRef, type ClientOption } from './provider.js';

/** `useInbox()`: the user stream's state as plain values, and `acknowledge`. */
export type UseInboxReturn = ReactShape<InboxState, Pick<Inbox, 'acknowledge'>>;

/**
 * The signed-in user's acknowledged stream (see `client.inbox()`): `const { unread, acknowledge } =
 * useInbox({ onMessage })`, open while mounted. `onMessage` may change on every render;
 * `autoAcknowledge` is read when the inbox opens. `unread` is the same on every device of the user.
 */
export function useInbox<T = unknown>(options: InboxOptions<T> & ClientOption = {}): UseInboxReturn {
  checkKnownOptions(options, ['client', 'onMessage', 'autoAcknowledge'], 'useInbox()');
  const { client, onMessage, autoAcknowledge } = options;
  const ref = useClientRef(client, 'useInbox');
  const latest = useRef(onMessage);
  useLayoutEffect(() => { latest.current = onMessage; });
  const inbox = useRef<Inbox<T> | null>(null);
  const store = useMemo(() => new BoundStore<InboxState>(() => {
    const opened = ref.get().inbox<T>({
      onMessage: (data: T, message: HubMessage<T>) => latest.current?.(data, message),
      ...(autoAcknowledge === undefined ? {} : { autoAcknowledge }),
    });
    inbox.current = opened;
    return { store: opened, hold: () => () => { opened.close(); if (inbox.current === opened) inbox.current = null; } };
  }, NO_INBOX), [ref, autoAcknowledge]);
  const state = useSyncExternalStore(store.subscribe, store.getSnapshot, store.getServerSnapshot);
  const acknowledge = useCallback((offset?: number) => {
    if (inbox.current === null) return Promise.reject(new TypeError('livehub: useInbox is not mounted'));
    return inbox.current.acknowledge(offset);
  }, []);
  return { ...state, acknowledge };
}
