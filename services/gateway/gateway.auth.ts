/** Token verification lives in shared/auth.ts (the stream service verifies play and publish tokens too). */
export * from '#shared/auth.js';
