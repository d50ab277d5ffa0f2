// The demo's media: the publisher's source (camera or a canvas test pattern) and
// the figures the page shows and the browser tests read (what each peer connection
// sent and decoded). Plain JavaScript, no build step.

/** A moving test pattern from a canvas: works where there is no camera. */
function testPattern(label) {
  const canvas = document.createElement('canvas');
  canvas.width = 640;
  canvas.height = 360;
  const g = canvas.getContext('2d');
  let frame = 0;
  const draw = () => {
    frame++;
    g.fillStyle = `hsl(${(frame * 2) % 360} 60% 35%)`;
    g.fillRect(0, 0, 640, 360);
    ['#fff', '#ff0', '#0ff', '#0f0', '#f0f', '#f00', '#00f'].forEach((c, i) => {
      g.fillStyle = c;
      g.fillRect(40 + i * 80, 40, 80, 160);
    });
    g.fillStyle = '#000';
    g.fillRect(((frame * 6) % 680) - 40, 210, 40, 40);
    g.fillStyle = '#fff';
    g.font = 'bold 28px sans-serif';
    g.fillText(`Roomcast test pattern — ${label}`, 40, 290);
    g.font = '22px monospace';
    g.fillText(`${new Date().toISOString().slice(11, 23)}  frame ${frame}`, 40, 330);
  };
  draw();
  // A timer rather than requestAnimationFrame: it keeps drawing in a background tab.
  const timer = setInterval(draw, 1000 / 30);
  return { stream: canvas.captureStream(30), stop: () => clearInterval(timer) };
}

/**
 * The local stream: the camera when asked for and allowed, else the test pattern.
 * Returns `{stream, stop}`.
 */
export async function startMedia(source, label, log) {
  if (source === 'camera') {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
      log('camera on');
      return { stream, stop: () => stream.getTracks().forEach((t) => t.stop()) };
    } catch (err) {
      log(`camera unavailable (${err.name}); using the test pattern`, 'error');
    }
  }
  const p = testPattern(label);
  log('test pattern on');
  return {
    stream: p.stream,
    stop: () => {
      p.stop();
      p.stream.getTracks().forEach((t) => t.stop());
    },
  };
}

/**
 * Video figures of each peer connection: `[{peerId, connectionState, framesDecoded,
 * framesSent}]`. `pcs` maps a name (a peer id, or `srs` for WHIP/WHEP) to its
 * RTCPeerConnection.
 */
export async function pcStats(pcs) {
  const out = [];
  for (const [peerId, pc] of pcs) {
    let framesDecoded = 0;
    let framesSent = 0;
    for (const r of (await pc.getStats()).values()) {
      if (r.type === 'inbound-rtp' && r.kind === 'video') framesDecoded += r.framesDecoded ?? 0;
      if (r.type === 'outbound-rtp' && r.kind === 'video') framesSent += r.framesSent ?? 0;
    }
    out.push({ peerId, connectionState: pc.connectionState, framesDecoded, framesSent });
  }
  return out;
}

/** Figures for people and tests: the page's peer connections (links, WHIP or WHEP) and their video. */
export function stats(state) {
  const pcs = new Map([...(state.rtc?.links ?? [])].map(([id, link]) => [id, link.pc]));
  for (const s of [state.whip, state.whep]) if (s) pcs.set('srs', s.pc);
  return pcStats(pcs);
}
