/**
 * The little of the platform the SDK uses, typed structurally so that the SDK
 * compiles without the DOM library and runs on whatever provides it: a browser's
 * WebSocket, or in Node 20 (which has no global WebSocket) the `ws` package's.
 */

/** The WebSocket interface the SDK relies on (browsers' and `ws`'s both have it). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/**
 * A WebSocket constructor: `WebSocket` in browsers, `(await import('ws')).default` in
 * Node 20. Typed loosely (any constructor taking a URL) because the DOM's and `ws`'s
 * typings differ in ways the SDK does not use.
 */
export type WebSocketConstructor = new (url: string) => object;

/** WebSocket.OPEN, the same number everywhere. */
export const WS_OPEN = 1;

/** The global WebSocket, when the platform has one. */
export function globalWebSocket(): WebSocketConstructor | undefined {
  return (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
}

/** Text of a message event's data (the protocol is text frames only). */
export function messageText(data: unknown): string {
  if (typeof data === 'string') return data;
  // `ws` hands a Buffer (a Uint8Array) for text frames when not told otherwise.
  if (data instanceof Uint8Array) return new TextDecoder().decode(data);
  if (data instanceof ArrayBuffer) return new TextDecoder().decode(new Uint8Array(data));
  return String(data);
}
