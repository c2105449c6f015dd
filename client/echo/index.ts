/** livehub/echo: a Laravel Echo 2 connector for livehub servers. */
export { LivehubConnector, livehubEcho, type LivehubEchoOptions } from './connector.js';
export { LivehubChannel, LivehubPresenceChannel, LivehubPrivateChannel, toEchoMember, type EchoClient, type EchoMember } from './channel.js';
