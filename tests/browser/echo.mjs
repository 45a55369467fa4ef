// Real-browser echo test: Debian's headless Chromium, its fake microphone fed
// from a WAV file, loads the edge's own page (/), presses Start, talks WHIP to
// the parrot stack and checks that what comes back is what it sent.
//
//   node tests/browser/echo.mjs --url http://127.0.0.1:PORT/ --wav FILE.wav
//        [--seconds 6] [--out DIR] [--min-corr 0.6] [--expect-loopback]
//
// The page's local (sent) and remote (received) tracks are recorded in the page
// by one AudioWorklet on one AudioContext, so both are on the same clock; node
// computes the normalized cross-correlation over lags 0..500 ms: its peak says
// whether the echo is the audio sent, its lag is the mouth-to-ear round trip.
// Prints `ok   ...` lines, `FAIL: ...` and exits 1 on the first failure.
// Never downloads a browser: executablePath is /usr/bin/chromium.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf('--' + name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : def;
};
const flag = (name) => argv.includes('--' + name);
const URL_ = opt('url');
const WAV = opt('wav');
const SECONDS = Number(opt('seconds', '6'));
const OUT = opt('out', '');
const MIN_CORR = Number(opt('min-corr', '0.6'));
const MAX_LAG_MS = 500;
const LOOPBACK = flag('expect-loopback');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
if (!URL_ || !WAV) {
  console.error('usage: echo.mjs --url URL --wav FILE [--seconds N] [--out DIR] [--min-corr X] [--expect-loopback]');
  process.exit(2);
}

const ok = (msg) => console.log('ok   ' + msg);
class Fail extends Error {}
const fail = (msg) => { throw new Fail(msg); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function metric(name) {
  const resp = await fetch(new URL('/metrics', URL_), { signal: AbortSignal.timeout(3000) });
  const text = await resp.text();
  const m = text.match(new RegExp('^' + name + ' ([0-9.e+-]+)$', 'm'));
  return m ? Number(m[1]) : NaN;
}

async function waitMetric(name, want, ms) {
  let v = NaN;
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) {
    v = await metric(name);
    if (v === want) return v;
  }
  return v;
}

// ---- in-page recorder -------------------------------------------------------

// One worklet, two inputs (0 = the local microphone track, 1 = the remote
// track), mono each; it fills two buffers of `frames` samples, then posts them.
const WORKLET = `
class Rec extends AudioWorkletProcessor {
  constructor(o) {
    super();
    this.n = o.processorOptions.frames; this.i = 0; this.done = false;
    this.a = new Float32Array(this.n); this.b = new Float32Array(this.n);
  }
  process(inputs) {
    if (this.done) return false;
    const k = Math.min(128, this.n - this.i);
    const x = inputs[0] && inputs[0][0], y = inputs[1] && inputs[1][0];
    if (x) this.a.set(x.subarray(0, k), this.i);
    if (y) this.b.set(y.subarray(0, k), this.i);
    this.i += k;
    if (this.i >= this.n) {
      this.done = true;
      this.port.postMessage({ a: this.a, b: this.b }, [this.a.buffer, this.b.buffer]);
      return false;
    }
    return true;
  }
}
registerProcessor('voxmesh-rec', Rec);
`;

// Runs in the page: records `seconds` of sent and received audio, returns
// both as base64 of little-endian Float32.
async function pageRecord({ seconds, worklet }) {
  const pc = window.voxmesh.pc;
  const sent = pc.getSenders().map((s) => s.track).find((t) => t && t.kind === 'audio');
  const remoteEl = document.getElementById('remote');
  const remote = remoteEl.srcObject;
  if (!sent) throw new Error('no local audio track on the peer connection');
  if (!remote || !remote.getAudioTracks().length) throw new Error('the <audio id=remote> element has no remote stream');
  // The element keeps playing (WebAudio gets silence from a remote stream that
  // no element plays) but muted: the test must not depend on a sound card.
  remoteEl.muted = true;
  const ctx = new AudioContext();
  if (ctx.state !== 'running') await ctx.resume();
  const url = URL.createObjectURL(new Blob([worklet], { type: 'application/javascript' }));
  await ctx.audioWorklet.addModule(url);
  const frames = Math.round(seconds * ctx.sampleRate);
  const rec = new AudioWorkletNode(ctx, 'voxmesh-rec', {
    numberOfInputs: 2, numberOfOutputs: 1, channelCount: 1, channelCountMode: 'explicit',
    channelInterpretation: 'speakers', processorOptions: { frames },
  });
  const got = new Promise((resolve) => { rec.port.onmessage = (e) => resolve(e.data); });
  ctx.createMediaStreamSource(new MediaStream([sent])).connect(rec, 0, 0);
  ctx.createMediaStreamSource(remote).connect(rec, 0, 1);
  const sink = ctx.createGain();
  sink.gain.value = 0;
  rec.connect(sink).connect(ctx.destination);
  const t0 = performance.now();
  const data = await Promise.race([
    got, new Promise((_, rej) => setTimeout(() => rej(new Error('recorder timed out (AudioContext ' + ctx.state + ')')),
      seconds * 1000 + 5000)),
  ]);
  const wall = (performance.now() - t0) / 1000;
  const rate = ctx.sampleRate;
  await ctx.close();
  const b64 = (f) => {
    const u8 = new Uint8Array(f.buffer);
    let s = '';
    for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode.apply(null, u8.subarray(i, i + 0x8000));
    return btoa(s);
  };
  return { rate, wall, sent: b64(data.a), received: b64(data.b) };
}

async function pageStats() {
  const pc = window.voxmesh.pc;
  const r = { connectionState: pc.connectionState, inbound: null, outbound: null, pair: null, local: null, remote: null };
  const stats = await pc.getStats();
  let pairId = null;
  stats.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') r.inbound = s;
    if (s.type === 'outbound-rtp' && s.kind === 'audio') r.outbound = s;
    if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
  });
  if (!pairId) stats.forEach((s) => { if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pairId = s.id; });
  if (pairId) {
    r.pair = stats.get(pairId);
    r.local = stats.get(r.pair.localCandidateId);
    r.remote = stats.get(r.pair.remoteCandidateId);
  }
  return JSON.parse(JSON.stringify(r));
}

// ---- signal processing (node) -------------------------------------------------

function fromB64(s) {
  const b = Buffer.from(s, 'base64');
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4).slice();
}

function fft(re, im, inverse) { // in place, radix 2, length a power of two
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) { let t = re[i]; re[i] = re[j]; re[j] = t; t = im[i]; im[i] = im[j]; im[j] = t; }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = (inverse ? 2 : -2) * Math.PI / len;
    const wr = Math.cos(ang), wi = Math.sin(ang);
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

// Normalized cross-correlation of a window x (sent) against y (received, the
// same instants and maxLag samples more): for lags l = 0..maxLag (y late),
// c(l) = sum x[t] y[t+l] / sqrt(sum x[t]^2 * sum y[t+l]^2), t over the window.
// Returns the peak of |c|, its lag in samples and its sign.
function xcorr(x, y, maxLag) {
  const w = x.length;
  let size = 1;
  while (size < w + maxLag) size <<= 1;
  const xr = new Float64Array(size), xi = new Float64Array(size);
  const yr = new Float64Array(size), yi = new Float64Array(size);
  for (let i = 0; i < w; i++) xr[i] = x[i];
  for (let i = 0; i < Math.min(y.length, w + maxLag); i++) yr[i] = y[i];
  fft(xr, xi, false);
  fft(yr, yi, false);
  for (let k = 0; k < size; k++) { // conj(X) * Y
    const r = xr[k] * yr[k] + xi[k] * yi[k], i = xr[k] * yi[k] - xi[k] * yr[k];
    xr[k] = r; xi[k] = i;
  }
  fft(xr, xi, true); // xr[l] = sum_t x[t] y[t+l], no wrap since size >= w + maxLag
  let ex = 0;
  for (let i = 0; i < w; i++) ex += x[i] * x[i];
  const ey = new Float64Array(size + 1); // prefix sums of y^2
  for (let i = 0; i < size; i++) ey[i + 1] = ey[i] + (i < y.length ? y[i] * y[i] : 0);
  let best = { corr: 0, lag: 0, sign: 1 };
  for (let l = 0; l <= maxLag && l + w <= y.length; l++) {
    const e = Math.sqrt(ex * (ey[l + w] - ey[l]));
    if (!(e > 0)) continue;
    const c = xr[l] / e;
    if (Math.abs(c) > Math.abs(best.corr)) best = { corr: c, lag: l, sign: Math.sign(c) };
  }
  best.corr = Math.abs(best.corr);
  return best;
}

// The jitter buffer of the receiver adapts its delay (time-stretching, mostly
// in the first seconds), so one lag cannot hold for the whole recording:
// correlate windows of `win` samples every `hop`, skipping windows where the
// sent audio is nearly silent; returns the windows' peaks.
function windowed(x, y, win, hop, maxLag) {
  const out = [];
  for (let o = 0; o + win + maxLag <= Math.min(x.length, y.length); o += hop) {
    if (rmsDb(x, o, o + win) < -45) continue;
    out.push({ at: o, ...xcorr(x.subarray(o, o + win), y.subarray(o, o + win + maxLag), maxLag) });
  }
  return out;
}

const median = (a) => { const b = [...a].sort((p, q) => p - q); return b.length ? b[(b.length - 1) >> 1] : NaN; };
// The value that a third of the values reach or exceed.
const upperThird = (a) => { const b = [...a].sort((p, q) => q - p); return b.length ? b[Math.floor((b.length - 1) / 3)] : NaN; };

function rmsDb(x, from = 0, to = x.length) {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i] * x[i];
  const r = Math.sqrt(s / Math.max(1, to - from));
  return r > 0 ? 20 * Math.log10(r) : -Infinity;
}

function wav(path, x, rate) { // mono 16-bit
  const b = Buffer.alloc(44 + x.length * 2);
  b.write('RIFF', 0); b.writeUInt32LE(36 + x.length * 2, 4); b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24); b.writeUInt32LE(rate * 2, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34);
  b.write('data', 36); b.writeUInt32LE(x.length * 2, 40);
  for (let i = 0; i < x.length; i++) b.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(x[i] * 32767))), 44 + 2 * i);
  writeFileSync(path, b);
}

// ---- the test -----------------------------------------------------------------

async function main() {
  const profile = mkdtempSync(join(tmpdir(), 'voxmesh-chromium-'));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 20000,
    args: [
      '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      '--allow-loopback-in-peer-connection',
      '--use-file-for-fake-audio-capture=' + WAV,
    ],
    // Playwright's own user-data-dir is a fresh temp dir too; this one is ours to remove.
    env: { ...process.env, HOME: profile },
  });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(15000);
    const logs = [];
    page.on('console', (m) => logs.push(m.type() + ': ' + m.text()));
    page.on('pageerror', (e) => logs.push('pageerror: ' + e.message));
    const deletes = [];
    page.on('response', (r) => { if (r.request().method() === 'DELETE') deletes.push({ url: r.url(), status: r.status() }); });
    const posts = [];
    page.on('response', (r) => { if (r.request().method() === 'POST') posts.push({ url: r.url(), status: r.status() }); });
    try {
      return await run(page, deletes, posts);
    } catch (e) {
      if (logs.length) console.log('--- page console:\n' + logs.slice(-20).join('\n'));
      throw e;
    }
  } finally {
    await browser.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
}

async function run(page, deletes, posts) {
  const resp = await page.goto(URL_, { waitUntil: 'load' });
  if (!resp || resp.status() !== 200) fail('GET / answered ' + (resp && resp.status()));
  const hooks = await page.evaluate(() => typeof window.voxmesh === 'object' && typeof window.voxmesh.start === 'function'
    && window.voxmesh.state);
  if (hooks !== 'disconnected') fail('the page has no window.voxmesh hooks or is not disconnected: ' + hooks);
  ok('page / loaded, window.voxmesh.state = disconnected');

  await page.evaluate(() => {
    window.__states = [];
    window.voxmesh.onstate = (st) => window.__states.push(st);
  });
  const t0 = Date.now();
  await page.click('#start');
  try {
    await page.waitForFunction(() => ['connected', 'error'].includes(window.voxmesh.state), null, { timeout: 15000 });
  } catch {
    fail('no connection within 15 s: state ' + await page.evaluate(() => window.voxmesh.state));
  }
  const st = await page.evaluate(() => ({ state: window.voxmesh.state, err: window.voxmesh.lastError,
    states: window.__states, status: document.getElementById('status').textContent,
    sessionUrl: window.voxmesh.sessionUrl }));
  if (st.state !== 'connected') fail('the page went to ' + st.state + ': ' + st.err + ' (WHIP POST: ' + JSON.stringify(posts) + ')');
  if (st.states.join(' ') !== 'connecting connected') fail('states were: ' + st.states.join(' -> '));
  if (st.status !== 'connected') fail('#status shows ' + st.status);
  if (!st.sessionUrl) fail('the WHIP answer had no Location');
  ok(`Start: ${st.states.join(' -> ')} in ${Date.now() - t0} ms (WHIP POST ${posts.map((p) => p.status).join(',')}, session ${new URL(st.sessionUrl).pathname})`);

  // The meter maps -60..0 dBFS onto 0..100 %; the test signal peaks near -6.
  let peak = 0, width = 0;
  for (const end = Date.now() + 5000; Date.now() < end && !(peak > 30 && width > 30); await sleep(50)) {
    const m = await page.evaluate(() => [window.voxmesh.level, parseFloat(document.getElementById('level').style.width)]);
    if (m[0] > peak) { peak = m[0]; width = m[1]; }
  }
  if (!(peak > 30 && width > 30)) fail(`the microphone level meter does not move: highest level ${peak} %, bar ${width} %`);
  ok(`the level meter moves: up to ${peak.toFixed(0)} % (bar ${width.toFixed(0)} %)`);

  const sessions = await waitMetric('voxmesh_edge_sessions', 1, 3000);
  if (sessions !== 1) fail('edge /metrics: voxmesh_edge_sessions ' + sessions + ' during the call, want 1');
  ok('edge /metrics: voxmesh_edge_sessions 1 during the call');

  // Let the path settle (the receiver's jitter buffer adapts in the first second).
  await sleep(1000);
  const rec = await page.evaluate(pageRecord, { seconds: SECONDS, worklet: WORKLET });
  const sent = fromB64(rec.sent), received = fromB64(rec.received);
  if (OUT) {
    wav(join(OUT, 'sent.wav'), sent, rec.rate);
    wav(join(OUT, 'received.wav'), received, rec.rate);
  }
  const sentDb = rmsDb(sent), recvDb = rmsDb(received);
  ok(`recorded ${SECONDS} s at ${rec.rate} Hz in ${rec.wall.toFixed(2)} s: sent ${sentDb.toFixed(1)} dBFS, received ${recvDb.toFixed(1)} dBFS`);
  if (!(sentDb > -50)) fail('the sent (microphone) track is silent: ' + sentDb.toFixed(1) + ' dBFS');
  if (!(recvDb > -50)) fail('no echo: the received track is silent (' + recvDb.toFixed(1) + ' dBFS)');

  const maxLag = Math.round(MAX_LAG_MS / 1000 * rec.rate);
  const ms = (samples) => samples / rec.rate * 1000;
  const wins = windowed(sent, received, rec.rate, rec.rate >> 1, maxLag);
  if (wins.length < 3) fail(`only ${wins.length} windows with sound to correlate`);
  // A third of the windows must correlate, each at its own best lag: when
  // Chromium's jitter buffer re-adapts mid-call (this VM has steal time) a
  // window that straddles the change scores low although the echo is plain;
  // unrelated audio scores under 0.1 in every window (docs/testing-browser.md).
  const corr = upperThird(wins.map((w) => w.corr)), lag = ms(median(wins.map((w) => w.lag)));
  const inverted = wins.filter((w) => w.sign < 0).length > wins.length / 2;
  const summary = `correlation ${corr.toFixed(3)}${inverted ? ' (inverted)' : ''} at lag ${lag.toFixed(1)} ms`
    + ` (upper third of ${wins.length} 1 s windows, lag their median; per window: `
    + wins.map((w) => `${w.corr.toFixed(2)}@${ms(w.lag).toFixed(0)}`).join(' ') + ')';
  console.log(`ROUNDTRIP_MS=${lag.toFixed(1)} CORRELATION=${corr.toFixed(3)}`);
  if (!(corr > MIN_CORR)) fail('the echo is not the audio sent: ' + summary + ', want > ' + MIN_CORR);
  ok('echo is the audio sent: ' + summary);
  ok(`mouth-to-ear round trip ${lag.toFixed(1)} ms (target < 100 ms on loopback: ${lag < 100 ? 'met' : 'NOT met, reported only'})`);

  const s = await page.evaluate(pageStats);
  if (s.connectionState !== 'connected') fail('connectionState ' + s.connectionState);
  if (!s.inbound) fail('getStats has no inbound-rtp audio');
  const inb = s.inbound, outb = s.outbound || {};
  if (!(inb.packetsReceived > 100)) fail('inbound-rtp packetsReceived ' + inb.packetsReceived + ', want > 100');
  const lost = Math.max(0, inb.packetsLost || 0);
  if (lost > Math.max(5, inb.packetsReceived * 0.02)) fail(`inbound-rtp packetsLost ${lost} of ${inb.packetsReceived}`);
  ok(`getStats: connected, inbound packetsReceived ${inb.packetsReceived} lost ${lost} jitter ${((inb.jitter || 0) * 1000).toFixed(1)} ms`
    + ` jitterBuffer ${inb.jitterBufferEmittedCount ? (inb.jitterBufferDelay / inb.jitterBufferEmittedCount * 1000).toFixed(0) : '?'} ms,`
    + ` concealed ${inb.concealedSamples || 0}/${inb.totalSamplesReceived || 0} samples; outbound packetsSent ${outb.packetsSent}`);
  if (!s.pair || !s.local || !s.remote) fail('getStats has no selected candidate pair');
  const la = s.local.address || s.local.ip, ra = s.remote.address || s.remote.ip;
  const pairText = `${la}:${s.local.port} (${s.local.candidateType}/${s.local.protocol}) <-> ${ra}:${s.remote.port} (${s.remote.candidateType}), rtt ${((s.pair.currentRoundTripTime || 0) * 1000).toFixed(1)} ms`;
  if (LOOPBACK && (la !== '127.0.0.1' || ra !== '127.0.0.1')) fail('the selected candidate pair is not on 127.0.0.1: ' + pairText);
  ok('selected candidate pair ' + pairText);

  const sessionUrl = await page.evaluate(() => window.voxmesh.sessionUrl);
  await page.click('#stop');
  try {
    await page.waitForFunction(() => window.voxmesh.state === 'disconnected', null, { timeout: 5000 });
  } catch {
    fail('Stop: the page did not go back to disconnected: ' + await page.evaluate(() => window.voxmesh.state));
  }
  for (let i = 0; i < 30 && !deletes.length; i++) await sleep(100);
  const del = deletes.find((d) => d.url === sessionUrl);
  if (!del) fail('Stop sent no DELETE to ' + sessionUrl + ' (saw ' + JSON.stringify(deletes) + ')');
  // The page sends the DELETE before it closes the peer connection, so the
  // edge must answer it with 200 (RFC 9725 section 4.2).
  if (del.status !== 200) fail('the edge answered the DELETE with ' + del.status + ', want 200');
  console.log(`DELETE_STATUS=${del.status} SESSION_ID=${new URL(sessionUrl).pathname.split('/').pop()}`);
  ok(`Stop: DELETE ${new URL(sessionUrl).pathname} answered ${del.status}, page state disconnected`);
  const after = await waitMetric('voxmesh_edge_sessions', 0, 5000);
  if (after !== 0) fail('edge /metrics: voxmesh_edge_sessions ' + after + ' after Stop, want 0');
  const whip = await metric('voxmesh_edge_whip_sessions');
  if (whip !== 0) fail('edge /metrics: voxmesh_edge_whip_sessions ' + whip + ' after Stop, want 0');
  ok('edge /metrics: voxmesh_edge_sessions 0, voxmesh_edge_whip_sessions 0 after Stop');
}

const watchdog = setTimeout(() => { console.log('FAIL: echo.mjs took more than 50 s'); process.exit(1); }, 50000);
main().then(() => { clearTimeout(watchdog); process.exit(0); }, (e) => {
  console.log('FAIL: ' + (e instanceof Fail ? e.message : (e && e.stack) || e));
  process.exit(1);
});
