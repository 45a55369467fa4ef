// A fake OpenAI-compatible server for the voxmesh-llm tests (node:http only,
// 127.0.0.1). POST /v1/chat/completions streams server-sent events like the
// real API; what it does is chosen by a keyword in the last user message:
//
//   (none)        a normal streamed reply that quotes the question, [DONE]
//   [story]       30 sentences, one every 100 ms (for interrupts)
//   [tool]        first a get_weather tool call, streamed in awkward pieces;
//                 once the conversation holds the tool's result, a reply that
//                 quotes it
//   [429]         429 the first time this question is asked, then normal
//   [500]         always 500
//   [slow]        no response for 5 s
//   [disconnect]  a few deltas, then the connection is cut
//   [malformed]   a chunk of broken JSON
//   [endless]     "Tick N." every 100 ms, forever
//
// POST /tool/weather is the tool's webhook: {"temp_c":21,"sky":"sunny"}.
// Every request (and every stream the client closed early) is a JSON line
// in the --log file. Prints "listening PORT" once it accepts connections.
import http from 'node:http';
import fs from 'node:fs';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const logFile = opt('--log', null);
const port = Number(opt('--port', '0'));
const log = (obj) => {
  const line = JSON.stringify({ t: Date.now(), ...obj }) + '\n';
  if (logFile) fs.appendFileSync(logFile, line);
};
const seen429 = new Set();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function chunk(model, delta, finish = null) {
  return 'data: ' + JSON.stringify({
    id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model,
    choices: [{ index: 0, delta, finish_reason: finish }],
  }) + '\n\n';
}

function sse(res) {
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
  res.flushHeaders();
}

// Streams text in small pieces, as a model's tokens; false if the client left.
async function streamText(res, model, text, pieceMs = 2) {
  for (let i = 0; i < text.length; i += 4) {
    if (res.destroyed || res.writableEnded) return false;
    res.write(chunk(model, { content: text.slice(i, i + 4) }));
    if (pieceMs) await sleep(pieceMs);
  }
  return !res.destroyed;
}

function finish(res, model, reason = 'stop') {
  if (res.destroyed) return;
  res.write(chunk(model, {}, reason));
  res.write('data: [DONE]\n\n');
  res.end();
}

function errorJson(res, status, message) {
  const body = JSON.stringify({ error: { message, type: 'fake', code: status } });
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

async function chat(req, res, body) {
  let parsed;
  try {
    parsed = JSON.parse(body);
  } catch {
    return errorJson(res, 400, 'bad JSON');
  }
  const model = parsed.model || 'fake';
  const messages = Array.isArray(parsed.messages) ? parsed.messages : [];
  const users = messages.filter((m) => m.role === 'user');
  const last = users.length ? String(users[users.length - 1].content) : '';
  const toolMsg = messages.filter((m) => m.role === 'tool').pop();
  const behaviour = (last.match(/\[(story|tool|429|500|slow|disconnect|malformed|endless)\]/) || [])[1] || 'normal';
  log({
    path: req.url, auth: req.headers.authorization || null, model, behaviour, stream: parsed.stream,
    messages, tools: Array.isArray(parsed.tools) ? parsed.tools.length : 0, tool_choice: parsed.tool_choice || null,
  });
  let done = false;
  res.on('close', () => {
    if (!done) log({ event: 'aborted', behaviour, last });
  });
  switch (behaviour) {
    case 'normal':
      sse(res);
      await streamText(res, model, `Hello from the fake model. You said: ${last.replace(/[.!?]+$/, '')}. ` +
        `I have seen ${messages.length} messages.`);
      finish(res, model);
      break;
    case 'story':
      sse(res);
      for (let i = 1; i <= 30 && !res.destroyed; i++) {
        await streamText(res, model, `This is sentence number ${i} of the story. `, 0);
        await sleep(100);
      }
      finish(res, model);
      break;
    case 'tool':
      sse(res);
      if (!toolMsg) {
        const pieces = ['{"ci', 'ty": "Pa', 'ris", "unit"', ': "celsius"}'];
        res.write(chunk(model, { role: 'assistant', content: null, tool_calls: [
          { index: 0, id: 'call_fake_1', type: 'function', function: { name: 'get_weather', arguments: '' } }] }));
        for (const p of pieces) {
          await sleep(5);
          res.write(chunk(model, { tool_calls: [{ index: 0, function: { arguments: p } }] }));
        }
        finish(res, model, 'tool_calls');
      } else {
        await streamText(res, model, `The weather tool says: ${toolMsg.content}. Enjoy your day.`);
        finish(res, model);
      }
      break;
    case '429':
      if (!seen429.has(last)) {
        seen429.add(last);
        done = true;
        return errorJson(res, 429, 'Rate limit reached, slow down');
      }
      sse(res);
      await streamText(res, model, 'Success after the rate limit.');
      finish(res, model);
      break;
    case '500':
      done = true;
      return errorJson(res, 500, 'The fake server had an error');
    case 'slow':
      await sleep(5000);
      if (!res.destroyed) {
        sse(res);
        await streamText(res, model, 'Too late.');
        finish(res, model);
      }
      break;
    case 'disconnect':
      sse(res);
      await streamText(res, model, 'Part one is here. Part two is');
      await sleep(50);
      res.socket.destroy();
      break;
    case 'malformed':
      sse(res);
      res.write(chunk(model, { content: 'Fine so far. ' }));
      res.write('data: {"choices":[{"delta":{"content":"Hi\n\n');
      await sleep(50);
      res.end();
      break;
    case 'endless':
      sse(res);
      for (let i = 1; !res.destroyed; i++) {
        res.write(chunk(model, { content: `Tick ${i}. ` }));
        await sleep(100);
      }
      break;
  }
  done = true;
}

const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (d) => { body += d; });
  req.on('end', () => {
    if (req.method === 'POST' && req.url === '/v1/chat/completions') {
      chat(req, res, body).catch((e) => { log({ event: 'exception', error: String(e) }); res.destroy(); });
    } else if (req.method === 'POST' && req.url === '/tool/weather') {
      log({ event: 'tool', path: req.url, content_type: req.headers['content-type'] || null, body });
      const out = JSON.stringify({ temp_c: 21, sky: 'sunny' });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(out) });
      res.end(out);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
});
server.keepAliveTimeout = 30000;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
