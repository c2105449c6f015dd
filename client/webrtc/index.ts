/** livehub/webrtc/client: calls in a room over a LiveClient, peer to peer, signalled through the hub (`livehub/webrtc` on the server). */
export { Call, joinCall, type CallEvents, type CallOptions, type CallPeer } from './call.js';
export { Negotiation, type NegotiationSignal } from './negotiation.js';
export type { PeerInfo } from '../../pkg/webrtc/names.js';
