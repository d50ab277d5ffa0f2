/**
 * Roomcast's client SDK: `import { RoomcastClient } from 'roomcast/sdk'` (or, in a
 * page the gateway serves, `import ... from '/sdk/roomcast.js'`). ES module, no
 * runtime dependencies, browsers and Node 20.
 */
export { RoomcastClient, type RoomcastClientOptions } from './sdk.client.js';
export { Room, type RoomTransport } from './sdk.room.js';
export { RoomRtc, PeerLink, type RoomRtcOptions, type RtcEvents } from './sdk.rtc.js';
export type { TokenProvider } from './sdk.token.js';
export type { WebSocketConstructor } from './sdk.platform.js';
export type * from './sdk.rtc.types.js';
export * from './sdk.types.js';
