// A fake TTS provider for the voxmesh-tts tests (node:http only, 127.0.0.1),
// speaking both wire formats:
//
//   POST /v1/audio/speech                       OpenAI: JSON {model, input, voice,
//                                               response_format "pcm"}, Bearer key;
//                                               24 kHz s16le mono
//   POST /v1/text-to-speech/{voice}/stream?output_format=pcm_16000
//                                               ElevenLabs: JSON {text, model_id},
//                                               xi-api-key; 16 kHz s16le mono
//
// The request is checked (method, path, Content-Type, JSON body fields, the
// key given with --key); a bad one gets 400 with the reason. The audio is a
// known pattern, sample k of a stream = ((k * 7919) % 30000) - 15000, 40 ms
// per character of text, sent in odd-sized pieces (1, 3, 1001, 4095, 7, 2
// bytes, ...) so that samples straddle reads. A keyword in the text picks
// another behaviour:
//
//   [slow]     headers and audio only after 700 ms (a slow first byte)
//   [hang]     no response at all
//   [drop]     a third of the audio, then the connection is cut
//   [500]      500 with a JSON error that echoes the key (it must be masked)
//   [endless]  audio forever, as fast as the client takes it
//   [trickle]  audio forever, in real time (for interrupts)
//   [empty]    200 and no audio at all
//
// Every request is a JSON line in the --log file ({kind:"request", ok, why,
// provider, text, ...}); a response the client closed before its end is a
// line {kind:"aborted", text}. Prints "listening PORT" once it accepts.
import http from 'node:http';
import fs from 'node:fs';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const logFile = opt('--log', null);
const key = opt('--key', '');
const log = (obj) => {
  if (logFile) fs.appendFileSync(logFile, JSON.stringify({ t: Date.now(), ...obj }) + '\n');
};

const PIECES = [1, 3, 1001, 4095, 7, 2, 333, 64];

// Bytes first..first+n of the pattern, for a stream of `frames` samples.
function pattern(firstSample, frames) {
  const b = Buffer.alloc(frames * 2);
  for (let i = 0; i < frames; i++) b.writeInt16LE(((firstSample + i) * 7919) % 30000 - 15000, 2 * i);
  return b;
}

function check(req, url, body) {
  let j;
  if (req.method !== 'POST') return { why: 'not a POST' };
  if (!(req.headers['content-type'] || '').startsWith('application/json')) return { why: 'Content-Type is not JSON' };
  try {
    j = JSON.parse(body);
  } catch (e) {
    return { why: 'body is not JSON: ' + e.message };
  }
  if (url.pathname === '/v1/audio/speech') {
    if (req.headers.authorization !== `Bearer ${key}`) return { why: 'bad Authorization', status: 401 };
    if (typeof j.model !== 'string' || !j.model) return { why: 'no model' };
    if (typeof j.voice !== 'string' || !j.voice) return { why: 'no voice' };
    if (j.response_format !== 'pcm') return { why: 'response_format is not pcm' };
    if (typeof j.input !== 'string' || !j.input) return { why: 'no input' };
    return { provider: 'openai', rate: 24000, text: j.input, model: j.model, voice: j.voice };
  }
  const m = url.pathname.match(/^\/v1\/text-to-speech\/([A-Za-z0-9_-]+)\/stream$/);
  if (m) {
    if (req.headers['xi-api-key'] !== key) return { why: 'bad xi-api-key', status: 401 };
    if (url.searchParams.get('output_format') !== 'pcm_16000') return { why: 'output_format is not pcm_16000' };
    if (typeof j.text !== 'string' || !j.text) return { why: 'no text' };
    if (typeof j.model_id !== 'string' || !j.model_id) return { why: 'no model_id' };
    return { provider: 'elevenlabs', rate: 16000, text: j.text, model: j.model_id, voice: m[1] };
  }
  return { why: 'unknown path ' + url.pathname, status: 404 };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Writes `bytes` in odd pieces; resolves false if the client went away.
async function send(res, bytes, state) {
  let at = 0;
  while (at < bytes.length) {
    if (state.closed) return false;
    const n = Math.min(PIECES[state.piece++ % PIECES.length], bytes.length - at);
    const ok = res.write(bytes.subarray(at, at + n));
    at += n;
    if (!ok) await new Promise((r) => res.once('drain', r));
    else if (state.piece % 4 === 0) await sleep(1);
  }
  return true;
}

async function respond(req, res, r) {
  const state = { piece: 0, closed: false, done: false };
  res.on('close', () => {
    state.closed = true;
    if (!state.done) log({ kind: 'aborted', text: r.text });
  });
  const text = r.text;
  if (text.includes('[hang]')) return;              // never answers; the client's deadline ends it
  if (text.includes('[500]')) {
    state.done = true;
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: `internal error for key ${key}`, type: 'server_error' } }));
    return;
  }
  if (text.includes('[empty]')) {
    state.done = true;
    res.writeHead(200, { 'content-type': 'audio/pcm' });
    res.end();
    return;
  }
  if (text.includes('[slow]')) await sleep(700);
  if (state.closed) return;
  res.writeHead(200, { 'content-type': 'audio/pcm' });
  const frames = Math.round(text.length * 0.04 * r.rate);
  if (text.includes('[endless]') || text.includes('[trickle]')) {
    const step = Math.round(r.rate / 10);             // 100 ms
    for (let k = 0; !state.closed; k += step) {
      if (!(await send(res, pattern(k, step), state))) return;
      if (text.includes('[trickle]')) await sleep(100);
    }
    return;
  }
  if (text.includes('[drop]')) {
    const third = Math.floor(frames / 3);
    await send(res, pattern(0, third), state);
    await sleep(50);
    state.done = true;
    res.socket.destroy();                           // mid-stream: the body is cut short
    return;
  }
  if (await send(res, pattern(0, frames), state)) {
    state.done = true;
    res.end();
  }
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const body = Buffer.concat(chunks).toString('utf8');
    const r = check(req, url, body);
    let said = null;
    try {
      const j = JSON.parse(body);
      said = j.input || j.text || null;
    } catch (e) { /* reported by check() */ }
    const provider = url.pathname === '/v1/audio/speech' ? 'openai'
      : url.pathname.startsWith('/v1/text-to-speech/') ? 'elevenlabs' : null;
    log({ kind: 'request', ok: !r.why, why: r.why || null, path: url.pathname, provider,
          text: said, model: r.model || null, voice: r.voice || null });
    if (r.why) {
      res.writeHead(r.status || 400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: r.why } }));
      return;
    }
    respond(req, res, r).catch((e) => log({ kind: 'error', message: String(e) }));
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
