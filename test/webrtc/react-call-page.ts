/**
 * A page for the e2e tests that joins a call with livehub/webrtc/react's `useCall` and a fake
 * camera: `window.startCall({ ws, user, room, relay })`. It greets each peer over the data channel
 * once it opens, keeps what it receives in `window.received`, and shows each peer's video.
 */
import { createElement, useEffect, useRef } from 'react';
import { createRoot } from 'react-dom/client';
import { LivehubProvider } from '../../client/react/index.js';
import { useCall } from '../../client/webrtc/react.js';

interface Start { ws: string; user: string; room: string; relay: boolean }
const page = window as unknown as { startCall(start: Start): Promise<void>; received: string[]; callState: unknown };
page.received = [];

function CallView({ user, room, relay, stream }: Omit<Start, 'ws'> & { stream: MediaStream }) {
  const { status, peers, error } = useCall(room, {
    stream,
    // Only relayed candidates: the pair must go through the TURN server.
    peerConnection: relay ? (_peer, config) => new RTCPeerConnection({ ...config, iceTransportPolicy: 'relay' }) : undefined,
    onMessage: (data) => page.received.push(String(data)),
  });
  page.callState = { status, error: error?.message ?? null, peers: peers.map((p) => ({ user: p.user, state: p.state, channelState: p.channelState, streams: p.streams.length })) };
  const greeted = useRef(new Set<string>());
  useEffect(() => {
    for (const peer of peers) {
      if (peer.channelState !== 'open' || greeted.current.has(peer.id)) continue;
      greeted.current.add(peer.id);
      peer.channel!.send(`hello from ${user}`);
    }
  }, [peers, user]);
  return createElement('div', null, peers.map((peer) => createElement('video', {
    key: peer.id, autoPlay: true, muted: true, playsInline: true,
    ref: (video: HTMLVideoElement | null) => { if (video && video.srcObject !== (peer.streams[0] ?? null)) video.srcObject = peer.streams[0] ?? null; },
  })));
}

page.startCall = async ({ ws, user, room, relay }) => {
  const stream = await navigator.mediaDevices.getUserMedia({ video: true });
  const root = document.body.appendChild(document.createElement('div'));
  createRoot(root).render(createElement(LivehubProvider, { url: `${ws}?user=${user}` }, createElement(CallView, { user, room, relay, stream })));
};
