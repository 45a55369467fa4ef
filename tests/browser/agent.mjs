// The agent playground in a real browser: Debian's headless Chromium, its fake
// microphone fed from a WAV (a flite question, later a request for a story,
// then talking over the story), loads the edge's page, presses Start and
// watches the conversation view fed by the edge's event stream.
//
//   node tests/browser/agent.mjs --url http://127.0.0.1:PORT/ --wav FILE.wav
//        --out DIR [--expect-words hello,what,your,name] [--expect-reply Vox]
//        [--barge-in-at S] [--seconds 60]
//
// Asserts, on the page (window.voxmesh and the DOM): a final transcript with
// words of the question, the reply text, the agent-speaking indicator on
// then off, a latency entry with voice_to_voice_ms > 0 shown under the
// reply, and (with --barge-in-at) the caller's barge-in shown and the story
// marked interrupted. Records the received track in the page (WebAudio on
// the muted <audio id=remote>) and asserts the reply was heard (RMS above
// silence). Writes DIR/agent.png (full page) and DIR/events.json.
// Prints `ok   ...` lines, figures as KEY=VALUE, `FAIL: ...` and exits 1.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf('--' + name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : def;
};
const URL_ = opt('url');
const WAV = opt('wav');
const OUT = opt('out');
const WORDS = opt('expect-words', 'hello,what,your,name').split(',');
const REPLY = opt('expect-reply', 'Vox');
const BARGE_AT = Number(opt('barge-in-at', '0'));
const SECONDS = Number(opt('seconds', '60'));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
if (!URL_ || !WAV || !OUT) {
  console.error('usage: agent.mjs --url URL --wav FILE --out DIR [--expect-words a,b] [--expect-reply TEXT] [--barge-in-at S]');
  process.exit(2);
}

const ok = (msg) => console.log('ok   ' + msg);
class Fail extends Error {}
const fail = (msg) => { throw new Fail(msg); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Runs in the page: samples the received track's level every 20 ms (RMS of
// the last 20 ms, WebAudio) into window.__levels as [ms since start, rms].
async function pageStartLevels() {
  const remoteEl = document.getElementById('remote');
  const remote = remoteEl.srcObject;
  if (!remote || !remote.getAudioTracks().length) throw new Error('the <audio id=remote> element has no remote stream');
  // It keeps playing (WebAudio gets silence from a remote stream no element
  // plays), muted: the test must not need a sound card.
  remoteEl.muted = true;
  const ctx = new AudioContext();
  if (ctx.state !== 'running') await ctx.resume();
  const an = ctx.createAnalyser();
  an.fftSize = 1024;
  ctx.createMediaStreamSource(remote).connect(an);
  const buf = new Float32Array(an.fftSize);
  window.__levels = [];
  const t0 = performance.now();
  window.__levelTimer = setInterval(() => {
    an.getFloatTimeDomainData(buf);
    let s = 0;
    for (let i = 0; i < buf.length; i++) s += buf[i] * buf[i];
    window.__levels.push([performance.now() - t0, Math.sqrt(s / buf.length)]);
  }, 20);
  window.__levelCtx = ctx;
  return ctx.sampleRate;
}

// What the page shows, for the assertions and the log.
function pageView() {
  const v = window.voxmesh;
  const q = (sel) => [...document.querySelectorAll(sel)];
  const panel = document.getElementById('agent');
  return {
    state: v.state, eventsState: v.eventsState,
    transcripts: v.transcripts, replies: v.replies, latencies: v.latencies, interrupts: v.interrupts,
    agentSpoke: v.agentSpoke, agentSpeaking: v.agentSpeaking, callerSpeaking: v.callerSpeaking,
    types: v.events.map((e) => e.type),
    panelHidden: panel.hidden,
    panelVisible: !panel.hidden && panel.getBoundingClientRect().height > 0,
    callerItems: q('#log li.msg.caller').map((li) => ({ text: li.querySelector('.text').textContent, partial: li.classList.contains('partial') })),
    agentItems: q('#log li.msg.agent').map((li) => ({ text: li.querySelector('.text').textContent, by: li.querySelector('.by').textContent,
      cut: li.classList.contains('cut'), lat: (li.querySelector('.lat') || {}).textContent || '' })),
    notes: q('#log li.note').map((li) => li.textContent),
    summary: document.getElementById('summary').textContent,
    agentIndicator: document.getElementById('agent-speaking').dataset.on,
  };
}

const words = (s) => s.toLowerCase().replace(/[^a-z' ]/g, ' ').split(/\s+/).filter(Boolean);

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
      '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required',
      // Played once from when the page opens the microphone (Start).
      '--use-file-for-fake-audio-capture=' + WAV + '%noloop',
    ],
    env: { ...process.env, HOME: profile },
  });
  const logs = [];
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 900 } });
    page.setDefaultTimeout(15000);
    page.on('console', (m) => logs.push(m.type() + ': ' + m.text()));
    page.on('pageerror', (e) => logs.push('pageerror: ' + e.message));
    try {
      await run(page, logs);
    } catch (e) {
      await page.screenshot({ path: join(OUT, 'agent-failed.png'), fullPage: true }).catch(() => {});
      const v = await page.evaluate(pageView).catch(() => null);
      if (v) writeFileSync(join(OUT, 'view.json'), JSON.stringify(v, null, 1));
      if (logs.length) console.log('--- page console:\n' + logs.slice(-20).join('\n'));
      throw e;
    }
  } finally {
    await browser.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
}

// Polls the page until pred(view) or the deadline; returns the last view.
async function waitView(page, pred, ms, what) {
  let v;
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) {
    v = await page.evaluate(pageView);
    if (pred(v)) return v;
  }
  fail(what + ' within ' + (ms / 1000) + ' s; the page has: ' + JSON.stringify({
    transcripts: v.transcripts, replies: v.replies.map((r) => r.text), latencies: v.latencies,
    interrupts: v.interrupts, types: v.types.slice(-30), eventsState: v.eventsState, state: v.state }));
}

async function run(page, logs) {
  const resp = await page.goto(URL_, { waitUntil: 'load' });
  if (!resp || resp.status() !== 200) fail('GET / answered ' + (resp && resp.status()));
  let v = await page.evaluate(pageView);
  if (v.state !== 'disconnected' || !v.panelHidden || v.eventsState !== 'idle') {
    fail('before Start the page should be disconnected with the conversation hidden: ' + JSON.stringify(v));
  }
  ok('page / loaded: disconnected, conversation hidden, window.voxmesh has the playground hooks');

  const t0 = Date.now();
  await page.click('#start');
  await page.waitForFunction(() => ['connected', 'error'].includes(window.voxmesh.state), null, { timeout: 15000 })
    .catch(() => fail('no connection within 15 s'));
  v = await page.evaluate(pageView);
  if (v.state !== 'connected') fail('the page went to ' + v.state + ': ' + await page.evaluate(() => window.voxmesh.lastError));
  await page.waitForFunction(() => window.voxmesh.eventsState === 'open', null, { timeout: 5000 })
    .catch(async () => fail('the event stream did not open: ' + await page.evaluate(() => window.voxmesh.eventsState)));
  ok(`Start: connected in ${Date.now() - t0} ms, event stream open`);
  const rate = await page.evaluate(pageStartLevels);

  // 1. The question: a final transcript with its words, the reply, latency.
  v = await waitView(page, (x) => x.transcripts.some((t) => t.final && WORDS.filter((w) => words(t.text).includes(w)).length >= 2),
    30000, 'no final transcript with two of the words ' + WORDS.join(' '));
  const q = v.transcripts.find((t) => t.final);
  const seenPartial = v.types.includes('partial');
  ok(`final transcript "${q.text}" (STT ${q.lagMs} ms after the end of speech${seenPartial ? '; partials came first' : ''})`);
  v = await waitView(page, (x) => x.replies.some((r) => r.text.includes(REPLY)) && x.latencies.length > 0
    && x.replies.some((r) => r.done), 20000, `no reply containing "${REPLY}" with its latency`);
  const reply = v.replies.find((r) => r.text.includes(REPLY));
  const lat = v.latencies[0];
  if (!(lat.voice_to_voice_ms > 0)) fail('latency entry without voice_to_voice_ms > 0: ' + JSON.stringify(lat));
  if (lat.turn !== reply.turn) fail(`the latency is for turn ${lat.turn}, the reply is turn ${reply.turn}`);
  ok(`reply (turn ${reply.turn}, ${reply.sentences.length} sentences, ${v.types.filter((t) => t === 'reply_delta').length} deltas): "${reply.text}"`);
  console.log(`VOICE_TO_VOICE_MS=${lat.voice_to_voice_ms} STT_MS=${lat.stt_ms} LLM_FIRST_SENTENCE_MS=${lat.llm_first_sentence_ms} TTS_FIRST_AUDIO_MS=${lat.tts_first_audio_ms}`);
  ok(`latency of turn ${lat.turn}: voice-to-voice ${lat.voice_to_voice_ms} ms = STT ${lat.stt_ms} + LLM ${lat.llm_first_sentence_ms} + TTS ${lat.tts_first_audio_ms}`);

  // The page shows it: the panel, the caller's and the agent's entries, the
  // latency under the reply; the agent-speaking indicator went on.
  v = await waitView(page, (x) => x.agentSpoke, 10000, 'the agent-speaking indicator never went on');
  if (!v.panelVisible) fail('the conversation section is not visible');
  const ci = v.callerItems.find((c) => !c.partial && c.text.includes(q.text));
  if (!ci) fail('the log shows no final caller entry "' + q.text + '": ' + JSON.stringify(v.callerItems));
  const ai = v.agentItems.find((a) => a.text.includes(REPLY));
  if (!ai) fail('the log shows no agent entry with "' + REPLY + '": ' + JSON.stringify(v.agentItems));
  if (!/voice-to-voice \d/.test(ai.lat)) fail('the reply entry shows no latency: "' + ai.lat + '"');
  if (!/voice-to-voice/.test(v.summary)) fail('the summary shows no latency: "' + v.summary + '"');
  ok(`the log shows you: "${ci.text}", the agent: "${ai.text.slice(0, 60)}…" with "${ai.lat}"`);

  // The reply was heard: the received track carries audio while the agent speaks.
  v = await waitView(page, (x) => x.types.includes('agent_speaking') && !x.agentSpeaking, 20000,
    'the agent-speaking indicator did not go off after the reply');
  const levels = await page.evaluate(() => window.__levels);
  const loud = levels.filter(([, r]) => r > 0.003);       // -50 dBFS
  const peak = Math.max(...levels.map(([, r]) => r));
  const heardMs = loud.length * 20;
  const dbfs = (r) => (r > 0 ? 20 * Math.log10(r) : -Infinity).toFixed(1);
  console.log(`REPLY_HEARD_MS=${heardMs} REPLY_PEAK_DBFS=${dbfs(peak)}`);
  if (!(peak > 0.01) || heardMs < 1000) {
    fail(`the reply was not heard: peak ${dbfs(peak)} dBFS, ${heardMs} ms above -50 dBFS (recorded at ${rate} Hz)`);
  }
  ok(`the reply was heard: ${heardMs} ms of the received track above -50 dBFS, peak ${dbfs(peak)} dBFS; indicator went on and off`);
  await page.screenshot({ path: join(OUT, 'agent-first-turn.png'), fullPage: true });

  // 2. Optional: a story, and the caller talks over it.
  if (BARGE_AT > 0) {
    v = await waitView(page, (x) => x.interrupts.length > 0 && x.replies.some((r) => r.interrupted), (BARGE_AT + 20) * 1000,
      'no barge-in shown');
    // What was heard of it (tts.spoken.), and the answer to the words that
    // cut it, for the screenshot: waited for, not required.
    v = await waitView(page, (x) => x.replies.some((r) => r.spoken != null)
      && x.replies.length >= 3 && x.replies[x.replies.length - 1].done, 10000, '').catch(() => null);
    v = await page.evaluate(pageView);
    const cut = v.replies.find((r) => r.interrupted);
    if (!v.notes.some((n) => /interrupted/.test(n))) fail('the log shows no barge-in note: ' + JSON.stringify(v.notes));
    const cutItem = v.agentItems.find((a) => a.cut);
    if (!cutItem || !/interrupted/.test(cutItem.by)) fail('the cut reply is not marked interrupted in the log');
    ok(`barge-in shown: turn ${cut.turn} "${cut.text.slice(0, 50)}…" marked interrupted`
      + (cut.spoken != null ? `, heard up to "${cut.spoken.slice(-40)}"` : '') + `; note "${v.notes[0]}"`);
  }

  await page.screenshot({ path: join(OUT, 'agent.png'), fullPage: true });
  v = await page.evaluate(pageView);
  writeFileSync(join(OUT, 'events.json'), JSON.stringify(await page.evaluate(() => window.voxmesh.events), null, 1));
  ok(`screenshot ${join(OUT, 'agent.png')} (${v.transcripts.length} transcripts, ${v.replies.length} replies, ${v.latencies.length} latencies)`);
  const errors = logs.filter((l) => l.startsWith('pageerror') || l.startsWith('error'));
  if (errors.length) fail('the page logged errors: ' + errors.join(' | '));

  await page.click('#stop');
  await page.waitForFunction(() => window.voxmesh.state === 'disconnected' && window.voxmesh.eventsState === 'closed',
    null, { timeout: 5000 }).catch(async () => fail('Stop: state ' + JSON.stringify(await page.evaluate(
    () => [window.voxmesh.state, window.voxmesh.eventsState]))));
  v = await page.evaluate(pageView);
  if (v.panelHidden || !v.agentItems.length) fail('after Stop the conversation should stay on screen');
  ok('Stop: disconnected, event stream closed, the conversation stays readable');
}

const watchdog = setTimeout(() => { console.log(`FAIL: agent.mjs took more than ${SECONDS} s`); process.exit(1); }, SECONDS * 1000);
main().then(() => { clearTimeout(watchdog); process.exit(0); }, (e) => {
  console.log('FAIL: ' + (e instanceof Fail ? e.message : (e && e.stack) || e));
  process.exit(1);
});
