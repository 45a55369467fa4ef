// A fake STT provider for the voxmesh-stt tests (node:http only, 127.0.0.1),
// speaking both wire formats:
//
//   POST /v1/audio/transcriptions         OpenAI: multipart/form-data with file
//                                         (a WAV), model, response_format=json,
//                                         optional language; Bearer key;
//                                         answers {"text": " ..."} (with the
//                                         leading space Whisper gives)
//   POST /v1/listen?model=M&punctuate=true[&language=L]
//                                         Deepgram: Content-Type audio/wav, the
//                                         WAV as the body; "Token KEY"; answers
//                                         {metadata, results: {channels: [{
//                                         alternatives: [{transcript,
//                                         confidence: 0.875, words}]}]}}
//
// Every request is checked: method, path, the key (--key), the form (each
// part once, no unknown part, the file's name and type, the boundary and
// CRLFs), the query, and the WAV (RIFF sizes, PCM, 16000 Hz, mono, 16 bit,
// data size = the bytes there). A bad one gets 400 (401 for the key) with the
// reason. The transcript says what arrived: "TAG N samples fnv XXXXXXXX"
// (N = samples in the WAV, the FNV-1a hash of their bytes), so the test can
// check that the daemon sent exactly the utterance's audio. TAG is read from
// the audio itself: its first 16 samples are the ASCII codes of a keyword
// (0-padded; "plain" when none), which picks a behaviour:
//
//   slow       answers after 700 ms (within the daemon's deadlines)
//   stall      no response at all (a slow first byte past the deadline)
//   hang       no response at all (for a session that ends meanwhile)
//   drop       200, half of the JSON, then the connection is cut
//   429        429 the first time this audio comes, then the answer
//   500        always 500, with a JSON error that echoes the key
//   malformed  200 with broken JSON
//   endless    200 and a JSON string that never ends, as fast as it is taken
//   empty      200, the provider heard nothing ("")
//   noresult   200, JSON without a transcript where the format puts it
//
// Each request is a JSON line in the --log file ({kind: "request", provider,
// ok, why, tag, samples, fnv, ...}); a response the client closed before its
// end is {kind: "aborted", tag, fnv}. Prints "listening PORT" once it accepts.
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
const seen429 = new Set();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// An error body as each provider writes it.
const errorBody = (provider, code, message) => JSON.stringify(provider === 'deepgram'
  ? { err_code: code, err_msg: message, request_id: 'fake' }
  : { error: { message, type: code } });

function fnv1a(buf) {
  let h = 0x811c9dc5;
  for (const b of buf) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

// The WAV as the daemon must write it; {why} or {samples, pcm}.
function checkWav(b) {
  if (b.length < 12 || b.toString('latin1', 0, 4) !== 'RIFF' || b.toString('latin1', 8, 12) !== 'WAVE')
    return { why: 'not a RIFF/WAVE file' };
  if (b.readUInt32LE(4) !== b.length - 8) return { why: `RIFF size ${b.readUInt32LE(4)}, file ${b.length} bytes` };
  let fmt = null;
  let data = null;
  for (let at = 12; at + 8 <= b.length;) {
    const id = b.toString('latin1', at, at + 4);
    const size = b.readUInt32LE(at + 4);
    if (at + 8 + size > b.length) return { why: `chunk ${id} of ${size} bytes runs past the end` };
    if (id === 'fmt ') fmt = b.subarray(at + 8, at + 8 + size);
    if (id === 'data') data = b.subarray(at + 8, at + 8 + size);
    at += 8 + size + (size & 1);
  }
  if (!fmt || fmt.length < 16) return { why: 'no fmt chunk' };
  if (!data) return { why: 'no data chunk' };
  const format = fmt.readUInt16LE(0), channels = fmt.readUInt16LE(2), rate = fmt.readUInt32LE(4);
  const byteRate = fmt.readUInt32LE(8), align = fmt.readUInt16LE(12), bits = fmt.readUInt16LE(14);
  if (format !== 1) return { why: `format ${format}, not PCM` };
  if (channels !== 1) return { why: `${channels} channels, not mono` };
  if (rate !== 16000) return { why: `${rate} Hz, not 16000` };
  if (bits !== 16 || align !== 2 || byteRate !== 32000) return { why: `${bits} bits, align ${align}, ${byteRate} B/s` };
  if (data.length % 2) return { why: 'odd data size' };
  return { samples: data.length / 2, pcm: data };
}

// multipart/form-data, strictly: {why} or {parts: Map name -> {filename, type, data}}.
function parseMultipart(contentType, body) {
  const m = /^multipart\/form-data;\s*boundary=("?)([^";]+)\1\s*$/i.exec(contentType || '');
  if (!m) return { why: `Content-Type ${contentType}, not multipart/form-data with a boundary` };
  const delim = Buffer.from('--' + m[2]);
  if (body.indexOf(delim) !== 0) return { why: 'the body does not start with the boundary' };
  const parts = new Map();
  let at = delim.length;
  for (;;) {
    if (body.toString('latin1', at, at + 2) === '--') {
      const rest = body.toString('latin1', at + 2);
      if (rest !== '' && rest !== '\r\n') return { why: 'bytes after the closing boundary' };
      return { parts };
    }
    if (body.toString('latin1', at, at + 2) !== '\r\n') return { why: 'no CRLF after a boundary' };
    at += 2;
    const hend = body.indexOf('\r\n\r\n', at);
    if (hend < 0) return { why: 'a part without the end of its headers' };
    const headers = {};
    for (const line of body.toString('utf8', at, hend).split('\r\n')) {
      const c = line.indexOf(':');
      if (c <= 0) return { why: `a bad part header: ${line}` };
      headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
    }
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delim]), hend + 4);
    if (next < 0) return { why: 'a part without a closing boundary' };
    const cd = /^form-data;\s*name="([^"]*)"(?:;\s*filename="([^"]*)")?$/.exec(headers['content-disposition'] || '');
    if (!cd) return { why: `a bad Content-Disposition: ${headers['content-disposition']}` };
    if (parts.has(cd[1])) return { why: `part ${cd[1]} twice` };
    parts.set(cd[1], { filename: cd[2] ?? null, type: headers['content-type'] ?? null, data: body.subarray(hend + 4, next) });
    at = next + 2 + delim.length;
  }
}

// What the request carries; {why, status} when it is wrong.
function check(req, url, body) {
  if (req.method !== 'POST') return { why: 'not a POST' };
  if (url.pathname === '/v1/audio/transcriptions') {
    const mp = parseMultipart(req.headers['content-type'], body);
    if (mp.why) return { provider: 'openai', why: mp.why };
    const p = mp.parts;
    for (const name of p.keys())
      if (!['file', 'model', 'language', 'response_format'].includes(name)) return { provider: 'openai', why: `unknown part ${name}` };
    const file = p.get('file');
    if (!file) return { provider: 'openai', why: 'no file part' };
    if (!file.filename || !file.filename.endsWith('.wav')) return { provider: 'openai', why: `file name ${file.filename}` };
    if (file.type !== 'audio/wav') return { provider: 'openai', why: `file type ${file.type}` };
    const model = p.get('model')?.data.toString('utf8');
    if (!model) return { provider: 'openai', why: 'no model' };
    const format = p.get('response_format')?.data.toString('utf8');
    if (format !== 'json') return { provider: 'openai', why: `response_format ${format}` };
    const wav = checkWav(file.data);
    if (wav.why) return { provider: 'openai', why: 'the WAV: ' + wav.why };
    // The key last, so that a refused request's audio is still logged.
    if (req.headers.authorization !== `Bearer ${key}`) return { provider: 'openai', why: 'bad Authorization', status: 401, ...wav };
    return { provider: 'openai', model, language: p.get('language')?.data.toString('utf8') ?? null, ...wav };
  }
  if (url.pathname === '/v1/listen') {
    if (req.headers['content-type'] !== 'audio/wav') return { provider: 'deepgram', why: `Content-Type ${req.headers['content-type']}` };
    const model = url.searchParams.get('model');
    if (!model) return { provider: 'deepgram', why: 'no model in the query' };
    if (url.searchParams.get('punctuate') !== 'true') return { provider: 'deepgram', why: 'punctuate is not true' };
    const wav = checkWav(body);
    if (wav.why) return { provider: 'deepgram', why: 'the WAV: ' + wav.why };
    if (req.headers.authorization !== `Token ${key}`) return { provider: 'deepgram', why: 'bad Authorization', status: 401, ...wav };
    return { provider: 'deepgram', model, language: url.searchParams.get('language'), ...wav };
  }
  return { why: 'unknown path ' + url.pathname, status: 404 };
}

function tagOf(pcm) {
  let s = '';
  for (let i = 0; i < 16 && 2 * i + 1 < pcm.length; i++) {
    const c = pcm.readInt16LE(2 * i);
    if (c <= 0 || c > 126) break;
    s += String.fromCharCode(c);
  }
  return s || 'plain';
}

function answer(r, text) {
  if (r.provider === 'openai') return JSON.stringify({ text: ' ' + text });
  return JSON.stringify({
    metadata: { request_id: 'fake', duration: r.samples / 16000, channels: 1 },
    results: { channels: [{ alternatives: [{ transcript: text, confidence: 0.875,
      words: text.split(' ').map((w, i) => ({ word: w, start: i * 0.1, end: i * 0.1 + 0.1, confidence: 0.875 })) }] }] },
  });
}

async function respond(res, r) {
  const state = { done: false };
  res.on('close', () => {
    if (!state.done) log({ kind: 'aborted', provider: r.provider, tag: r.tag, fnv: r.fnv });
  });
  const json = (status, body) => {
    state.done = true;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body);
  };
  const text = `${r.tag} ${r.samples} samples fnv ${r.fnv}`;
  switch (r.tag) {
    case 'stall':
    case 'hang':
      return;                                     // the client's deadline or cancel ends it
    case 'slow':
      await sleep(700);
      break;
    case '429':
      if (!seen429.has(r.fnv)) {
        seen429.add(r.fnv);
        return json(429, errorBody(r.provider, 'TOO_MANY_REQUESTS', 'Rate limit reached, slow down'));
      }
      break;
    case '500':
      return json(500, errorBody(r.provider, 'INTERNAL_SERVER_ERROR', `internal error for key ${key}`));
    case 'malformed':
      return json(200, '{"text": "this is not');
    case 'empty':
      return json(200, answer(r, ''));
    case 'noresult':
      return json(200, r.provider === 'openai' ? '{"transcript": "wrong place"}' : '{"results": {"channels": []}}');
    case 'drop': {
      res.writeHead(200, { 'content-type': 'application/json' });
      const body = answer(r, text);
      res.write(body.slice(0, body.length >> 1));
      await sleep(50);
      state.done = true;
      res.socket.destroy();
      return;
    }
    case 'endless': {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"text": "');
      const piece = 'la '.repeat(5000);
      while (!res.destroyed) {
        if (!res.write(piece)) await new Promise((ok) => { res.once('drain', ok); res.once('close', ok); });
      }
      return;
    }
    default:
      break;
  }
  if (!res.destroyed) json(200, answer(r, text));
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const body = Buffer.concat(chunks);
    const r = check(req, url, body);
    if (r.pcm) {
      r.tag = tagOf(r.pcm);
      r.fnv = fnv1a(r.pcm);
    }
    log({ kind: 'request', ok: !r.why, why: r.why || null, path: url.pathname, provider: r.provider || null,
          tag: r.tag || null, samples: r.samples ?? null, fnv: r.fnv || null, model: r.model || null,
          language: r.language ?? null, bytes: body.length });
    if (r.why) {
      res.writeHead(r.status || 400, { 'content-type': 'application/json' });
      res.end(errorBody(r.provider, 'INVALID_REQUEST', r.why));
      return;
    }
    respond(res, r).catch((e) => log({ kind: 'error', message: String(e) }));
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
