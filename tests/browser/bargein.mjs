// Barge-in, measured in a real browser: the greeter speaks to the caller as
// soon as the call is up; the caller's fake microphone is silent, then talks
// over the greeting. Recorded in the page on one clock (10 ms level samples
// of the microphone and of the agent's audio): the time from the caller's
// speech onset to the agent's audio stopping at the client.
// Usage: node bargein.mjs --url http://127.0.0.1:PORT/ --wav mic.wav
import { chromium } from './node_modules/playwright-core/index.mjs';

const args = Object.fromEntries(process.argv.slice(2).reduce((a, v, i, all) =>
  (v.startsWith('--') ? a.concat([[v.slice(2), all[i + 1]]]) : a), []));
const fail = (m) => { console.log('FAIL: ' + m); process.exit(1); };
const ok = (m) => console.log('ok   ' + m);

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [
  '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required',
  `--use-file-for-fake-audio-capture=${args.wav}`] });
const timer = setTimeout(() => fail('timed out'), 40000);
try {
  const page = await browser.newPage();
  await page.goto(args.url);
  await page.evaluate(() => window.voxmesh.start());
  await page.waitForFunction(() => window.voxmesh.state === 'connected', null, { timeout: 10000 });
  ok('connected to the greeter stack');
  // Sample both levels every 10 ms for 9 s.
  const traced = await page.evaluate(async () => {
    const pc = window.voxmesh.pc;
    const ctx = new AudioContext();
    const remote = new MediaStream(pc.getReceivers().map((r) => r.track));
    const el = document.getElementById('remote');
    if (el && !el.srcObject) el.srcObject = remote;
    const local = new MediaStream(pc.getSenders().map((s) => s.track).filter(Boolean));
    const mk = (stream) => { const a = ctx.createAnalyser(); a.fftSize = 512; ctx.createMediaStreamSource(stream).connect(a); return a; };
    const an = { local: mk(local), remote: mk(remote) };
    const buf = new Float32Array(512);
    const rms = (a) => { a.getFloatTimeDomainData(buf); let s = 0; for (const v of buf) s += v * v; return Math.sqrt(s / buf.length); };
    const out = [];
    const t0 = performance.now();
    out.wall0 = Date.now();
    while (performance.now() - t0 < 9000) {
      out.push([performance.now() - t0, rms(an.local), rms(an.remote)]);
      await new Promise((r) => setTimeout(r, 10));
    }
    const stats = await pc.getStats();
    let jb = null;
    stats.forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'audio') jb = r; });
    const jbMs = jb && jb.jitterBufferEmittedCount ? 1000 * jb.jitterBufferDelay / jb.jitterBufferEmittedCount : -1;
    return { rows: out, wall0: out.wall0, jbMs, target: jb ? 1000 * (jb.jitterBufferTargetDelay || 0) / (jb.jitterBufferEmittedCount || 1) : -1 };
  });
  const trace = traced.rows;
  const wall = (i) => new Date(traced.wall0 + trace[i][0]).toISOString().slice(11, 23);
  await page.evaluate(() => window.voxmesh.stop());
  // The microphone's silence is digital zero, so its onset is the first
  // sample above -66 dBFS (a quiet fricative counts: the VAD hears it too);
  // the agent's audio counts as playing above -40 dBFS.
  const thr = [0, 0.0005, 0.01];
  const loud = (i, col) => trace[i][col] > thr[col];
  const greetStart = trace.findIndex((_, i) => loud(i, 2));
  if (greetStart < 0) fail('the prompt never played');
  ok(`greeting heard at ${trace[greetStart][0].toFixed(0)} ms`);
  // Caller onset: the first loud microphone sample after 300 ms of quiet, while the greeting plays.
  let onset = -1;
  for (let i = greetStart + 30; i < trace.length; i++) {
    let quiet = true;
    for (let j = i - 30; j < i; j++) if (loud(j, 1)) { quiet = false; break; }
    if (quiet && loud(i, 1)) { onset = i; break; }
  }
  if (onset < 0) fail('the caller never started talking over the greeting');
  let playingAtOnset = false;
  for (let j = Math.max(0, onset - 20); j <= onset; j++) if (loud(j, 2)) playingAtOnset = true;
  if (!playingAtOnset) fail('the greeting was not playing when the caller started talking');
  // Agent stop: the last loud remote sample of the whole trace. Uncut, the
  // greeting (longer than the trace) would play to its end; cut, nothing
  // plays after the flush. A pause inside the greeting is not a stop.
  let stop = -1;
  for (let i = trace.length - 1; i >= onset; i--) if (loud(i, 2)) { stop = i; break; }
  if (stop < 0) fail('no agent audio after the onset at all');
  const silentMs = trace[trace.length - 1][0] - trace[stop][0];
  if (silentMs < 2000) fail(`the greeting went on after the caller talked (last agent audio ${silentMs.toFixed(0)} ms before the end)`);
  const ms = trace[stop][0] - trace[onset][0];
  if (ms > 1000) fail(`the greeting stopped only ${ms.toFixed(0)} ms after the caller's onset`);
  ok(`caller onset at ${trace[onset][0].toFixed(0)} ms (${wall(onset)} UTC), agent audio stopped at ${trace[stop][0].toFixed(0)} ms (${wall(stop)} UTC)`);
  console.log(`BARGE_IN_MS=${ms.toFixed(0)} JITTER_BUFFER_MS=${traced.jbMs.toFixed(0)} TARGET_MS=${traced.target.toFixed(0)}`);
  ok(`barge-in: speech onset to agent silent at the client ${ms.toFixed(0)} ms (target < 150 ms${ms < 150 ? ': met' : ': NOT met, reported only'})`);
} finally {
  clearTimeout(timer);
  await browser.close();
}
