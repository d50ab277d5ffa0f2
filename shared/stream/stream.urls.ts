/**
 * Publish and play URLs of a room's stream, built from the public base URLs of SRS
 * (config `stream`). The stream name is the room id; the credential travels in the
 * query string, which SRS hands to the hooks as `param`:
 * `key=<streamKey>` (the owner's encoder) or `token=<jwt>` (a publish or play token).
 */
import type { Config } from '#config/config.js';

export type StreamUrlConfig = Pick<
  Config['stream'],
  'app' | 'publicRtmpUrl' | 'publicHttpUrl' | 'publicRtcUrl'
>;

/** How the URL authorizes: the room's stream key, a token, or nothing (public play). */
export type StreamCredential = { key: string } | { token: string } | null;

export interface PublishUrls {
  /** ffmpeg: `ffmpeg -re -i in.mp4 -c copy -f flv '<rtmp>'`. */
  rtmp: string;
  /** OBS: Settings → Stream → Custom: Server and Stream Key. */
  obs: { server: string; streamKey: string };
  /** WebRTC publishing (WHIP), e.g. from OBS 30+ or a browser. */
  whip: string;
}

export interface PlayUrls {
  rtmp: string;
  flv: string;
  hls: string;
  /** The SRS player's WebRTC URL. */
  webrtc: string;
  /** WebRTC playback (WHEP). */
  whep: string;
}

const trim = (base: string) => base.replace(/\/+$/, '');

function query(credential: StreamCredential): URLSearchParams {
  const q = new URLSearchParams();
  if (credential === null) return q;
  if ('key' in credential) q.set('key', credential.key);
  else q.set('token', credential.token);
  return q;
}

function suffix(q: URLSearchParams): string {
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}

function rtcApi(cfg: StreamUrlConfig, kind: 'whip' | 'whep', roomId: string, c: StreamCredential) {
  const q = new URLSearchParams({ app: cfg.app, stream: roomId });
  for (const [k, v] of query(c)) q.set(k, v);
  return `${trim(cfg.publicRtcUrl)}/rtc/v1/${kind}/?${q.toString()}`;
}

/** Where an encoder publishes the room's stream. */
export function publishUrls(
  cfg: StreamUrlConfig,
  roomId: string,
  credential: Exclude<StreamCredential, null>,
): PublishUrls {
  const server = `${trim(cfg.publicRtmpUrl)}/${cfg.app}`;
  const streamKey = `${roomId}${suffix(query(credential))}`;
  return {
    rtmp: `${server}/${streamKey}`,
    obs: { server, streamKey },
    whip: rtcApi(cfg, 'whip', roomId, credential),
  };
}

/** Where a player watches the room's stream. */
export function playUrls(
  cfg: StreamUrlConfig,
  roomId: string,
  credential: StreamCredential,
): PlayUrls {
  const q = suffix(query(credential));
  const http = `${trim(cfg.publicHttpUrl)}/${cfg.app}/${roomId}`;
  return {
    rtmp: `${trim(cfg.publicRtmpUrl)}/${cfg.app}/${roomId}${q}`,
    flv: `${http}.flv${q}`,
    hls: `${http}.m3u8${q}`,
    webrtc: `webrtc://${new URL(cfg.publicRtcUrl).host}/${cfg.app}/${roomId}${q}`,
    whep: rtcApi(cfg, 'whep', roomId, credential),
  };
}
