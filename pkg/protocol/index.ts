/**
 * The livehub protocol: names, messages, commands, replies, stream positions, the SSE resume id, and
 * the one registry of error and close codes. Shared by the server, every transport and the clients;
 * no runtime dependency, so the browser client imports it too.
 */
export * from './names.js';
export * from './messages.js';
export * from './errors.js';
export * from './close-codes.js';
export * from './resume-id.js';
export * from './json-shape.js';
export * from './topics.js';
export * from './patterns.js';
