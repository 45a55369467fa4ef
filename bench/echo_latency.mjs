// Echo round trip, voxmesh's parrot stack against Janus's echotest plugin, with
// one client in one run (bench/echo_latency.sh starts both servers; method and
// figures: docs/bench-echo.md).
//
//   node bench/echo_latency.mjs --voxmesh http://127.0.0.1:P/ --janus http://127.0.0.1:Q/janus
//        --wav MIC.wav [--calls 4] [--seconds 6] [--out DIR] [--local-addrs 127.0.0.1,198.18.0.1]
//
// One headless Chromium, one page. Each call, for either server, runs the same
// page function: getUserMedia (the fake microphone plays MIC.wav), one
// RTCPeerConnection with one audio-only sendrecv transceiver, a complete
// (non-trickle) offer once ICE gathering is done, then only the signalling
// differs -- WHIP (POST /whip) for voxmesh, the Janus HTTP API (create, attach
// janus.plugin.echotest, message with the jsep offer, long-poll for the answer)
// for Janus. Once connected it waits 1 s, then one AudioWorklet on one
// AudioContext records the sent track and the received track for --seconds, so
// both are on the same clock. Node cross-correlates them in 1 s windows (hop
// 0.5 s, lags 0..500 ms): the lag of each window's peak is the mouth-to-ear
// round trip; the call's figure is the median over its windows. getStats,
// polled every 200 ms on the recording's clock, gives each window the
// receiver's jitter-buffer delay; the round trip less that delay is what the
// path (sender, network, server) adds without Chromium's adaptive buffer.
// Calls alternate voxmesh, Janus, voxmesh, ... The edge's
// voxmesh_edge_mesh_latency_seconds histogram, differenced around each
// voxmesh recording, gives the mesh latency (edge in -> edge out).
//
// Exit 0 when every figure could be measured (targets met or not: it reports);
// 1 when a server gave no usable call at all or the browser failed.
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TOP = join(dirname(fileURLToPath(import.meta.url)), '..');
const { chromium } = createRequire(join(TOP, 'tests/browser/package.json'))('playwright-core');

const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf('--' + name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : def;
};
const VOXMESH = opt('voxmesh');
const JANUS = opt('janus');
const WAV = opt('wav');
const CALLS = Number(opt('calls', '4'));
const SECONDS = Number(opt('seconds', '6'));
const OUT = opt('out', '');
const LOCAL = opt('local-addrs', '') ? opt('local-addrs').split(',') : null; // the pair must use these
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const MAX_LAG_MS = 500;
const MIN_CORR = 0.6;          // a call whose median window peak is lower is not the echo: not counted
const RT_TARGET_MS = 5;        // voxmesh within 5 ms of Janus
const MESH_TARGET_MS = 5;      // mesh latency p50 under 5 ms
if (!VOXMESH || !JANUS || !WAV) {
  console.error('usage: echo_latency.mjs --voxmesh URL --janus URL --wav FILE [--calls N] [--seconds S] [--out DIR] [--local-addrs A,B]');
  process.exit(2);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- in the page ----------------------------------------------------------------

const WORKLET = `
class Rec extends AudioWorkletProcessor {
  constructor(o) {
    super();
    this.n = o.processorOptions.frames; this.i = 0; this.done = false;
    this.a = new Float32Array(this.n); this.b = new Float32Array(this.n);
    this.t0 = -1;
  }
  process(inputs) {
    if (this.done) return false;
    if (this.t0 < 0) this.t0 = currentTime;   // context time of sample 0
    const k = Math.min(128, this.n - this.i);
    const x = inputs[0] && inputs[0][0], y = inputs[1] && inputs[1][0];
    if (x) this.a.set(x.subarray(0, k), this.i);
    if (y) this.b.set(y.subarray(0, k), this.i);
    this.i += k;
    if (this.i >= this.n) {
      this.done = true;
      this.port.postMessage({ a: this.a, b: this.b, t0: this.t0 }, [this.a.buffer, this.b.buffer]);
      return false;
    }
    return true;
  }
}
registerProcessor('bench-rec', Rec);
`;

// One call, start to end, in the page. `server` is 'voxmesh' or 'janus'; only
// the signalling differs between the two.
async function pageCall({ server, endpoint, seconds, worklet }) {
  const T = { t0: performance.now() };
  const mark = (k) => { T[k] = Math.round(performance.now() - T.t0); };
  const out = { server, timing: T };
  const cleanup = [];
  const withTimeout = (p, ms, what) => Promise.race([p,
    new Promise((_, rej) => setTimeout(() => rej(new Error(what + ' timed out after ' + ms + ' ms')), ms))]);
  const janusReq = async (path, body, signal) => {
    const r = await fetch(endpoint + path, {
      method: body ? 'POST' : 'GET',
      // text/plain keeps the request "simple" (no CORS preflight); Janus reads the JSON body regardless.
      headers: body ? { 'Content-Type': 'text/plain' } : {},
      body: body ? JSON.stringify({ transaction: Math.random().toString(36).slice(2), ...body }) : undefined,
      signal,
    });
    if (!r.ok) throw new Error('Janus ' + path + ': HTTP ' + r.status);
    return r.json();
  };
  try {
    const stream = await navigator.mediaDevices.getUserMedia({
      // The shipped page's constraints (services/edge/www/app.js).
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true }, video: false,
    });
    cleanup.push(() => stream.getTracks().forEach((t) => t.stop()));
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
    cleanup.push(() => pc.close());
    const track = stream.getAudioTracks()[0];
    pc.addTransceiver(track, { direction: 'sendrecv', streams: [stream] });
    const el = document.createElement('audio');
    el.autoplay = true;
    el.muted = true;     // WebAudio needs an element playing the remote stream; no sound card needed
    document.body.appendChild(el);
    cleanup.push(() => { el.srcObject = null; el.remove(); });
    const gotTrack = new Promise((resolve) => {
      pc.ontrack = (ev) => {
        el.srcObject = ev.streams && ev.streams[0] ? ev.streams[0] : new MediaStream([ev.track]);
        el.play().catch(() => {});
        resolve();
      };
    });
    await pc.setLocalDescription(await pc.createOffer());
    await withTimeout(new Promise((resolve) => {
      if (pc.iceGatheringState === 'complete') return resolve();
      pc.addEventListener('icegatheringstatechange', () => { if (pc.iceGatheringState === 'complete') resolve(); });
    }), 5000, 'ICE gathering');
    mark('gathered');
    const offer = pc.localDescription.sdp;
    out.offerCandidates = (offer.match(/^a=candidate:.*$/gm) || []).length;

    let answer;
    if (server === 'voxmesh') {
      const r = await fetch(new URL('/whip', endpoint), {
        method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offer,
      });
      const body = await r.text();
      if (r.status !== 201) throw new Error('WHIP POST answered ' + r.status + ': ' + body.trim());
      const loc = r.headers.get('Location');
      if (loc) {
        const url = new URL(loc, new URL('/whip', endpoint)).href;
        // DELETE before closing the peer connection (RFC 9725), as the shipped page does.
        cleanup.unshift(async () => { const d = await fetch(url, { method: 'DELETE' }); out.deleteStatus = d.status; });
      }
      answer = body;
    } else {
      const abort = new AbortController();
      const cr = await janusReq('', { janus: 'create' });
      if (cr.janus !== 'success') throw new Error('Janus create: ' + JSON.stringify(cr));
      const sid = cr.data.id;
      cleanup.unshift(async () => {
        abort.abort();
        await janusReq('/' + sid, { janus: 'destroy' }).catch(() => {});
      });
      const at = await janusReq('/' + sid, { janus: 'attach', plugin: 'janus.plugin.echotest' });
      if (at.janus !== 'success') throw new Error('Janus attach: ' + JSON.stringify(at));
      const hid = at.data.id;
      cleanup.unshift(async () => { await janusReq('/' + sid + '/' + hid, { janus: 'detach' }).catch(() => {}); });
      // Long poll: events come one per GET (maxev=1); it also keeps the session alive.
      const events = [];
      let waiter = null;
      out.janusEvents = [];
      (async () => {
        while (!abort.signal.aborted) {
          let evs;
          try {
            evs = await janusReq('/' + sid + '?maxev=1&rid=' + Date.now(), null, abort.signal);
          } catch (e) {
            if (!abort.signal.aborted) await new Promise((r) => setTimeout(r, 200));
            continue;
          }
          for (const ev of Array.isArray(evs) ? evs : [evs]) {
            if (ev.janus !== 'keepalive') out.janusEvents.push(ev.janus + (ev.plugindata ? ':' + JSON.stringify(ev.plugindata.data) : ''));
            events.push(ev);
            if (waiter) waiter();
          }
        }
      })();
      const keepalive = setInterval(() => janusReq('/' + sid, { janus: 'keepalive' }).catch(() => {}), 20000);
      cleanup.unshift(() => clearInterval(keepalive));
      const msg = await janusReq('/' + sid + '/' + hid, {
        janus: 'message', body: { audio: true, video: false },
        jsep: { type: 'offer', sdp: offer, trickle: false },
      });
      if (msg.janus !== 'ack' && msg.janus !== 'success') throw new Error('Janus message: ' + JSON.stringify(msg));
      const ans = await withTimeout((async () => {
        for (;;) {
          const ev = events.find((e) => e.jsep);
          if (ev) return ev.jsep;
          const err = events.find((e) => e.janus === 'error' || (e.plugindata && e.plugindata.data && e.plugindata.data.error));
          if (err) throw new Error('Janus: ' + JSON.stringify(err));
          await new Promise((r) => { waiter = r; });
        }
      })(), 10000, 'the Janus answer');
      if (ans.type !== 'answer') throw new Error('Janus sent a ' + ans.type + ', not an answer');
      answer = ans.sdp;
    }
    mark('answered');
    out.answerCandidates = (answer.match(/^a=candidate:.*$/gm) || []).length;
    out.answerOpus = ((answer.match(/^a=fmtp:\d+ .*$/m) || [''])[0]).replace(/^a=fmtp:\d+ /, '');
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    await withTimeout(new Promise((resolve, reject) => {
      const check = () => {
        if (pc.connectionState === 'connected') resolve();
        if (pc.connectionState === 'failed') reject(new Error('connection failed (ICE/DTLS)'));
      };
      pc.addEventListener('connectionstatechange', check);
      check();
    }), 10000, 'connecting');
    await withTimeout(gotTrack, 3000, 'the remote track');
    mark('connected');

    // Settle: the receiver's jitter buffer adapts in the first second.
    await new Promise((r) => setTimeout(r, 1000));

    const stats = async () => {
      const s = await pc.getStats();
      const r = { inbound: null, outbound: null, pair: null, local: null, remote: null, codec: null };
      let pairId = null;
      s.forEach((x) => {
        if (x.type === 'inbound-rtp' && x.kind === 'audio') r.inbound = x;
        if (x.type === 'outbound-rtp' && x.kind === 'audio') r.outbound = x;
        if (x.type === 'transport' && x.selectedCandidatePairId) pairId = x.selectedCandidatePairId;
      });
      if (pairId) {
        r.pair = s.get(pairId);
        r.local = s.get(r.pair.localCandidateId);
        r.remote = s.get(r.pair.remoteCandidateId);
      }
      if (r.inbound && r.inbound.codecId) r.codec = s.get(r.inbound.codecId);
      return JSON.parse(JSON.stringify(r));
    };
    out.before = await stats();
    out.recordStartMs = Date.now();

    const ctx = new AudioContext();
    cleanup.unshift(() => ctx.close());
    if (ctx.state !== 'running') await ctx.resume();
    await ctx.audioWorklet.addModule(URL.createObjectURL(new Blob([worklet], { type: 'application/javascript' })));
    const frames = Math.round(seconds * ctx.sampleRate);
    const rec = new AudioWorkletNode(ctx, 'bench-rec', {
      numberOfInputs: 2, numberOfOutputs: 1, channelCount: 1, channelCountMode: 'explicit',
      channelInterpretation: 'speakers', processorOptions: { frames },
    });
    const got = new Promise((resolve) => { rec.port.onmessage = (e) => resolve(e.data); });
    ctx.createMediaStreamSource(new MediaStream([track])).connect(rec, 0, 0);
    ctx.createMediaStreamSource(el.srcObject).connect(rec, 0, 1);
    const sink = ctx.createGain();
    sink.gain.value = 0;
    rec.connect(sink).connect(ctx.destination);
    // The receiver's jitter-buffer counters every 200 ms on the recording's
    // clock, so that each correlation window gets its own jitter-buffer delay.
    const polls = [];
    const poll = async () => {
      const st = await pc.getStats();
      const t = ctx.currentTime;
      st.forEach((x) => {
        if (x.type === 'inbound-rtp' && x.kind === 'audio')
          polls.push({ t, d: x.jitterBufferDelay || 0, n: x.jitterBufferEmittedCount || 0 });
      });
    };
    await poll();
    const poller = setInterval(() => { poll().catch(() => {}); }, 200);
    let data;
    try {
      data = await withTimeout(got, seconds * 1000 + 5000, 'the recorder');
      await poll();
    } finally {
      clearInterval(poller);
    }
    out.polls = polls;
    out.t0 = data.t0;
    out.after = await stats();
    out.recordEndMs = Date.now();
    out.connectionState = pc.connectionState;
    out.rate = ctx.sampleRate;
    const b64 = (f) => {
      const u8 = new Uint8Array(f.buffer);
      let s = '';
      for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode.apply(null, u8.subarray(i, i + 0x8000));
      return btoa(s);
    };
    out.sent = b64(data.a);
    out.received = b64(data.b);
  } catch (e) {
    out.error = String(e && e.message || e);
  } finally {
    for (const f of cleanup) { try { await f(); } catch { /* best effort */ } }
    mark('ended');
  }
  return out;
}

// ---- signal processing (node) ---------------------------------------------------

function fromB64(s) {
  const b = Buffer.from(s, 'base64');
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4).slice();
}

function fft(re, im, inverse) { // in place, radix 2, n a power of two
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) { [re[i], re[j]] = [re[j], re[i]]; [im[i], im[j]] = [im[j], im[i]]; }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = (inverse ? 2 : -2) * Math.PI / len, wr = Math.cos(ang), wi = Math.sin(ang);
    for (let i = 0; i < n; i += len) {
      let cr = 1, ci = 0;
      for (let k = 0; k < len / 2; k++) {
        const a = i + k, b = a + len / 2;
        const xr = re[b] * cr - im[b] * ci, xi = re[b] * ci + im[b] * cr;
        re[b] = re[a] - xr; im[b] = im[a] - xi; re[a] += xr; im[a] += xi;
        const t = cr * wr - ci * wi; ci = cr * wi + ci * wr; cr = t;
      }
    }
  }
  if (inverse) for (let i = 0; i < n; i++) { re[i] /= n; im[i] /= n; }
}

// Normalized cross-correlation of x (sent, w samples) with y (received, the
// same instants plus maxLag samples) for lags 0..maxLag: peak |c| and its lag.
function xcorr(x, y, maxLag) {
  const w = x.length;
  let size = 1;
  while (size < w + maxLag) size <<= 1;
  const xr = new Float64Array(size), xi = new Float64Array(size);
  const yr = new Float64Array(size), yi = new Float64Array(size);
  xr.set(x);
  for (let i = 0; i < Math.min(y.length, w + maxLag); i++) yr[i] = y[i];
  fft(xr, xi, false);
  fft(yr, yi, false);
  for (let k = 0; k < size; k++) {
    const r = xr[k] * yr[k] + xi[k] * yi[k], i = xr[k] * yi[k] - xi[k] * yr[k];
    xr[k] = r; xi[k] = i;
  }
  fft(xr, xi, true);
  let ex = 0;
  for (let i = 0; i < w; i++) ex += x[i] * x[i];
  const ey = new Float64Array(size + 1);
  for (let i = 0; i < size; i++) ey[i + 1] = ey[i] + (i < y.length ? y[i] * y[i] : 0);
  let best = { corr: 0, lag: 0 };
  for (let l = 0; l <= maxLag && l + w <= y.length; l++) {
    const e = Math.sqrt(ex * (ey[l + w] - ey[l]));
    if (!(e > 0)) continue;
    const c = xr[l] / e;
    if (Math.abs(c) > Math.abs(best.corr)) best = { corr: c, lag: l };
  }
  best.corr = Math.abs(best.corr);
  return best;
}

function rmsDb(x, from = 0, to = x.length) {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i] * x[i];
  const r = Math.sqrt(s / Math.max(1, to - from));
  return r > 0 ? 20 * Math.log10(r) : -Infinity;
}

// 1 s windows every 0.5 s, skipping windows where the sent audio is near silence.
// The receiver's mean jitter-buffer delay (ms) between context times a and b,
// from the polled counters that bracket them.
function jbBetween(polls, a, b) {
  let p = null, q = null;
  for (const x of polls) { if (x.t <= a) p = x; if (!q && x.t >= b) q = x; }
  if (!p) p = polls[0];
  if (!q) q = polls[polls.length - 1];
  return p && q && q.n > p.n ? (q.d - p.d) / (q.n - p.n) * 1000 : NaN;
}

function windowed(x, y, rate) {
  const win = rate, hop = rate >> 1, maxLag = Math.round(MAX_LAG_MS / 1000 * rate), out = [];
  for (let o = 0; o + win + maxLag <= Math.min(x.length, y.length); o += hop) {
    if (rmsDb(x, o, o + win) < -45) continue;
    const r = xcorr(x.subarray(o, o + win), y.subarray(o, o + win + maxLag), maxLag);
    out.push({ corr: r.corr, ms: r.lag / rate * 1000, from: o / rate, to: (o + win) / rate });
  }
  return out;
}

const median = (a) => { const b = [...a].sort((p, q) => p - q); return b.length ? b[(b.length - 1) >> 1] : NaN; };

function wav(path, x, rate) {
  const b = Buffer.alloc(44 + x.length * 2);
  b.write('RIFF', 0); b.writeUInt32LE(36 + x.length * 2, 4); b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24); b.writeUInt32LE(rate * 2, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34);
  b.write('data', 36); b.writeUInt32LE(x.length * 2, 40);
  for (let i = 0; i < x.length; i++) b.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(x[i] * 32767))), 44 + 2 * i);
  writeFileSync(path, b);
}

// ---- the edge's mesh-latency histogram -----------------------------------------

async function meshHistogram() {
  const r = await fetch(new URL('/metrics', VOXMESH), { signal: AbortSignal.timeout(3000) });
  const text = await r.text();
  const buckets = [];
  for (const m of text.matchAll(/^voxmesh_edge_mesh_latency_seconds_bucket\{le="([^"]+)"\} ([0-9.e+-]+)$/gm))
    buckets.push({ le: m[1] === '+Inf' ? Infinity : Number(m[1]), n: Number(m[2]) });
  const sum = text.match(/^voxmesh_edge_mesh_latency_seconds_sum ([0-9.e+-]+)$/m);
  const count = text.match(/^voxmesh_edge_mesh_latency_seconds_count ([0-9.e+-]+)$/m);
  if (!buckets.length || !count) throw new Error('the edge /metrics has no voxmesh_edge_mesh_latency_seconds histogram');
  return { buckets: buckets.sort((a, b) => a.le - b.le), sum: Number(sum && sum[1]), count: Number(count[1]) };
}

function histDiff(a, b) { // b - a
  return {
    buckets: b.buckets.map((x, i) => ({ le: x.le, n: x.n - (a.buckets[i] ? a.buckets[i].n : 0) })),
    sum: b.sum - a.sum, count: b.count - a.count,
  };
}

function histAdd(a, b) {
  if (!a) return b;
  return { buckets: a.buckets.map((x, i) => ({ le: x.le, n: x.n + b.buckets[i].n })), sum: a.sum + b.sum, count: a.count + b.count };
}

// Quantile q from cumulative buckets, linear inside the bucket (the Prometheus
// histogram_quantile estimate); also returns the bucket's bounds.
function histQuantile(h, q) {
  const total = h.count;
  if (!(total > 0)) return null;
  const rank = q * total;
  let prevLe = 0, prevN = 0;
  for (const b of h.buckets) {
    if (b.n >= rank) {
      if (b.le === Infinity) return { v: prevLe, lo: prevLe, hi: Infinity };
      const v = prevLe + (b.le - prevLe) * (b.n > prevN ? (rank - prevN) / (b.n - prevN) : 0);
      return { v, lo: prevLe, hi: b.le };
    }
    prevLe = b.le; prevN = b.n;
  }
  return null;
}

// ---- the run ----------------------------------------------------------------------

function describeCall(c) {
  const ib = c.after.inbound || {}, ib0 = c.before.inbound || {};
  const emitted = (ib.jitterBufferEmittedCount || 0) - (ib0.jitterBufferEmittedCount || 0);
  const per = (k) => emitted > 0 ? ((ib[k] || 0) - (ib0[k] || 0)) / emitted * 1000 : NaN;
  const recv = (ib.packetsReceived || 0) - (ib0.packetsReceived || 0);
  const lost = Math.max(0, (ib.packetsLost || 0) - (ib0.packetsLost || 0));
  const conc = (ib.concealedSamples || 0) - (ib0.concealedSamples || 0);
  const total = (ib.totalSamplesReceived || 0) - (ib0.totalSamplesReceived || 0);
  return {
    jbDelay: per('jitterBufferDelay'), jbTarget: per('jitterBufferTargetDelay'), jbMin: per('jitterBufferMinimumDelay'),
    jitter: (ib.jitter || 0) * 1000, recv, lost, concealedPct: total > 0 ? conc / total * 100 : NaN,
    rtt: c.after.pair ? (c.after.pair.currentRoundTripTime || 0) * 1000 : NaN,
    pair: c.after.local && c.after.remote
      ? `${c.after.local.address || c.after.local.ip}:${c.after.local.port} <-> ${c.after.remote.address || c.after.remote.ip}:${c.after.remote.port}`
      : '?',
    local: !!(c.after.local && c.after.remote && (!LOCAL || (LOCAL.includes(c.after.local.address || c.after.local.ip)
      && LOCAL.includes(c.after.remote.address || c.after.remote.ip)))),
    codec: c.after.codec ? `${c.after.codec.mimeType} ${c.after.codec.sdpFmtpLine || ''}`.trim() : '?',
  };
}

async function main() {
  const profile = mkdtempSync(join(tmpdir(), 'voxmesh-bench-chromium-'));
  const browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true, timeout: 20000,
    args: [
      '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required',
      '--use-file-for-fake-audio-capture=' + WAV,
    ],
    env: { ...process.env, HOME: profile },
  });
  const calls = { voxmesh: [], janus: [] };
  let mesh = null;
  const problems = [];
  try {
    const page = await browser.newPage();
    const logs = [];
    page.on('console', (m) => logs.push(m.type() + ': ' + m.text()));
    page.on('pageerror', (e) => logs.push('pageerror: ' + e.message));
    // A blank page served by the browser itself (page.route), on the origin of
    // the server under test, so that the signalling is same-origin for both
    // (Chromium's local-network-access rules refuse a cross-origin fetch
    // between two loopback ports) and no app.js runs beside the measurement.
    const origins = { voxmesh: new URL('/bench-echo.html', VOXMESH).href, janus: new URL('/bench-echo.html', JANUS).href };
    for (const u of Object.values(origins)) {
      await page.route(u, (route) => route.fulfill({
        status: 200, contentType: 'text/html', body: '<!doctype html><title>voxmesh echo bench</title><body></body>',
      }));
    }
    const order = [];
    for (let i = 0; i < CALLS; i++) order.push('voxmesh', 'janus');
    for (const [i, server] of order.entries()) {
      const endpoint = server === 'voxmesh' ? VOXMESH : JANUS;
      let meshCall = null;
      await page.goto(origins[server], { waitUntil: 'load' });
      let h0 = null;
      if (server === 'voxmesh') h0 = await meshHistogram();
      const r = await page.evaluate(pageCall, { server, endpoint, seconds: SECONDS, worklet: WORKLET });
      const n = calls[server].length + 1;
      const tag = `${server} #${n}`;
      if (r.error) {
        problems.push(`${tag}: ${r.error}`);
        console.log(`call ${i + 1} ${tag}: FAILED: ${r.error}` + (r.janusEvents && r.janusEvents.length ? ` (Janus events: ${r.janusEvents.join(', ')})` : ''));
        if (logs.length) console.log('  page console: ' + logs.splice(0).slice(-5).join(' | '));
        calls[server].push({ ok: false });
        continue;
      }
      if (server === 'voxmesh') {
        const h1 = await meshHistogram();
        const hd = histDiff(h0, h1);
        mesh = histAdd(mesh, hd);
        meshCall = hd;
      }
      const sent = fromB64(r.sent), received = fromB64(r.received);
      if (OUT) {
        wav(join(OUT, `${server}${n}-sent.wav`), sent, r.rate);
        wav(join(OUT, `${server}${n}-received.wav`), received, r.rate);
      }
      const wins = windowed(sent, received, r.rate);
      // Round trip less the receiver's jitter buffer, per window: what the
      // path (sender, network, server) adds, without Chromium's adaptive buffer.
      for (const w of wins) w.path = w.ms - jbBetween(r.polls || [], r.t0 + w.from, r.t0 + w.to);
      const d = describeCall(r);
      const c = {
        ok: true, wins, d,
        rt: median(wins.map((w) => w.ms)), corr: median(wins.map((w) => w.corr)),
        sentDb: rmsDb(sent), recvDb: rmsDb(received), timing: r.timing,
      };
      c.ok = wins.length >= 3 && c.corr > MIN_CORR;
      if (!d.local) { c.ok = false; problems.push(`${tag}: candidate pair not on this namespace's addresses (${LOCAL}): ${d.pair}`); }
      calls[server].push(c);
      console.log(`call ${i + 1} ${tag.padEnd(10)} round trip ${c.rt.toFixed(1)} ms (${median(wins.map((w) => w.path)).toFixed(1)} without the jitter buffer),`
        + ` correlation ${c.corr.toFixed(3)} (${wins.length} windows, correlation@lag: ${wins.map((w) => `${w.corr.toFixed(2)}@${w.ms.toFixed(0)}`).join(' ')})`
        + (c.ok ? '' : '  <- NOT COUNTED: ' + (wins.length < 3 ? 'too few windows with sound' : (c.corr > MIN_CORR ? '' : 'correlation too low ') + (d.local ? '' : 'pair not local'))));
      console.log(`     jitter buffer ${d.jbDelay.toFixed(1)} ms (target ${d.jbTarget.toFixed(1)}, minimum ${d.jbMin.toFixed(1)}),`
        + ` jitter ${d.jitter.toFixed(1)} ms, ${d.recv} packets, ${d.lost} lost, concealed ${d.concealedPct.toFixed(2)} %,`
        + ` rtt ${d.rtt.toFixed(1)} ms; sent ${c.sentDb.toFixed(1)} dBFS, received ${c.recvDb.toFixed(1)} dBFS;`
        + ` connected ${r.timing.connected} ms after start; ${d.pair}; ${d.codec}`);
      if (meshCall) {
        const q = histQuantile(meshCall, 0.5);
        console.log(`     mesh latency during the recording: p50 ${q ? (q.v * 1000).toFixed(2) : '-'} ms over ${meshCall.count} packets; buckets (ms: packets) `
          + meshCall.buckets.map((b, k) => [b, b.n - (k ? meshCall.buckets[k - 1].n : 0)]).filter(([, n]) => n > 0)
            .map(([b, n]) => `<=${b.le === Infinity ? 'inf' : +(b.le * 1000).toFixed(2)}: ${n}`).join(', '));
      }
    }
  } finally {
    await browser.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
  return report(calls, mesh, problems);
}

function report(calls, mesh, problems) {
  const f = (v, d = 1) => Number.isFinite(v) ? v.toFixed(d) : '-';
  const sgn = (v) => (v >= 0 ? '+' : '') + f(v);
  const sum = {};
  for (const server of ['voxmesh', 'janus']) {
    const good = calls[server].filter((c) => c.ok);
    const wins = good.flatMap((c) => c.wins);
    const rts = wins.map((w) => w.ms), paths = wins.map((w) => w.path).filter(Number.isFinite);
    sum[server] = {
      n: good.length, of: calls[server].length, p50: median(rts), min: Math.min(...rts), max: Math.max(...rts),
      calls: good.map((c) => c.rt), path: median(paths), pathMin: Math.min(...paths), pathMax: Math.max(...paths),
      corr: median(wins.map((w) => w.corr)),
      jb: median(wins.map((w) => w.ms - w.path).filter(Number.isFinite)), jitter: median(good.map((c) => c.d.jitter)),
    };
  }
  const v = sum.voxmesh, j = sum.janus;
  console.log('');
  console.log('echo round trip, mouth to ear (one Chromium; per server all 1 s windows of its counted calls, ms):');
  console.log('server   calls  p50     range          per call                  minus jitter buffer: p50  range        correlation  jitter buffer  jitter');
  for (const [name, s] of [['voxmesh', v], ['janus', j]]) {
    console.log(`${name.padEnd(8)} ${`${s.n}/${s.of}`.padEnd(6)} ${f(s.p50).padStart(6)}  ${`${f(s.min)}..${f(s.max)}`.padEnd(14)} `
      + `${s.calls.map((x) => f(x)).join(' ').padEnd(25)} ${f(s.path).padStart(26)}  ${`${f(s.pathMin)}..${f(s.pathMax)}`.padEnd(12)} `
      + `${f(s.corr, 3).padStart(11)}  ${f(s.jb).padStart(13)}  ${f(s.jitter).padStart(6)}`);
  }
  const diff = v.p50 - j.p50, pathDiff = v.path - j.path;
  const measured = v.n > 0 && j.n > 0;
  if (measured) {
    console.log(`difference voxmesh - Janus: round trip p50 ${sgn(diff)} ms (target within ${RT_TARGET_MS} ms: `
      + `${Math.abs(diff) <= RT_TARGET_MS ? 'met' : 'NOT met'}); without the receiver's jitter buffer ${sgn(pathDiff)} ms`
      + ` (${Math.abs(pathDiff) <= RT_TARGET_MS ? 'within' : 'NOT within'} ${RT_TARGET_MS} ms); jitter buffer ${sgn(v.jb - j.jb)} ms`);
  } else {
    console.log('difference voxmesh - Janus: not measured');
  }
  let meshOk = false;
  if (mesh && mesh.count > 0) {
    const p50 = histQuantile(mesh, 0.5), p90 = histQuantile(mesh, 0.9), p99 = histQuantile(mesh, 0.99);
    const le5 = mesh.buckets.find((b) => b.le === MESH_TARGET_MS / 1000);
    const frac5 = le5 ? le5.n / mesh.count : NaN;
    const ms = (q) => q ? `${f(q.v * 1000, 2)} (bucket ${f(q.lo * 1000, 2)}..${q.hi === Infinity ? 'inf' : f(q.hi * 1000, 2)})` : '-';
    console.log(`voxmesh mesh latency (edge in -> edge out, voxmesh_edge_mesh_latency_seconds over the recordings, ${mesh.count} packets):`
      + ` p50 ${ms(p50)} ms, p90 ${ms(p90)} ms, p99 ${ms(p99)} ms, mean ${f(mesh.sum / mesh.count * 1000, 2)} ms;`
      + ` ${Number.isFinite(frac5) ? f(frac5 * 100) + ' % of packets within ' + MESH_TARGET_MS + ' ms' : ''}`
      + ` (target p50 < ${MESH_TARGET_MS} ms: ${p50 && p50.v * 1000 < MESH_TARGET_MS && !(frac5 < 0.5) ? 'met' : 'NOT met'})`);
    meshOk = true;
  } else {
    console.log('voxmesh mesh latency: not measured (no packets observed in the histogram during the recordings)');
  }
  console.log(`RESULT voxmesh_rt_p50_ms=${f(v.p50)} janus_rt_p50_ms=${f(j.p50)} diff_ms=${measured ? f(diff) : '-'}`
    + ` voxmesh_path_p50_ms=${f(v.path)} janus_path_p50_ms=${f(j.path)} path_diff_ms=${measured ? f(pathDiff) : '-'}`
    + ` mesh_p50_ms=${mesh && mesh.count ? f(histQuantile(mesh, 0.5).v * 1000, 2) : '-'}`
    + ` voxmesh_corr=${f(v.corr, 3)} janus_corr=${f(j.corr, 3)}`);
  if (problems.length) console.log('problems: ' + problems.join('; '));
  if (!measured || !meshOk) {
    console.log('FAIL: the comparison could not be measured: '
      + [v.n ? null : 'no counted voxmesh call', j.n ? null : 'no counted Janus call', meshOk ? null : 'no mesh latency'].filter(Boolean).join(', '));
    return 1;
  }
  return 0;
}

const WATCHDOG_S = 30 + CALLS * 2 * (SECONDS + 10);
const watchdog = setTimeout(() => { console.log(`FAIL: echo_latency.mjs took more than ${WATCHDOG_S} s`); process.exit(1); },
  WATCHDOG_S * 1000);
main().then((rc) => { clearTimeout(watchdog); process.exit(rc); }, (e) => {
  console.log('FAIL: ' + ((e && e.stack) || e));
  process.exit(1);
});
