/** livehub/webrtc: WebRTC signalling through the hub (rooms of peers, relayed signals) and ICE servers. */
export { webrtcSignalling, type JoinAnswer, type WebrtcSignalling } from './signalling.js';
export { SIGNALLING_DEFAULTS, type AuthorizeRoom, type WebrtcSignallingOptions } from './options.js';
export { ICE_SERVERS, JOIN, JOINED, LEAVE, LEFT, SIGNAL, peerChannel, roomChannel, type PeerInfo, type SignalMessage } from './names.js';
export { turnCredential, type IceAnswer, type IceServer, type IceServersHandlerOptions, type TurnOptions } from './ice.js';
