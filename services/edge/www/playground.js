// voxmesh agent playground: the conversation as it happens, from the edge's
// event stream of the call (GET <session>/events, server-sent events; the
// events are listed in docs/edge-http.md). What you said (live partial
// transcript, then the final one), the agent's reply as it streams, who is
// speaking, barge-ins, and each turn's latency: voice-to-voice and its
// stages. Plain JS, no build step; app.js runs the call and tells us about
// it with the 'voxmesh:session' / 'voxmesh:ended' window events.
//
// If the server has no event stream, or the graph has no STT/LLM (the parrot
// stack), nothing here shows: the section stays hidden until the
// conversation has something in it.
//
// Test hooks, added to window.voxmesh: transcripts [{utterance, text, final,
// lagMs}], replies [{turn, text, sentences, done, reason, interrupted,
// spoken, latency}], latencies [latency events], interrupts, events (the
// last 500, raw), callerSpeaking, agentSpeaking, agentSpoke (it went on at
// least once), eventsState (idle | connecting | open | closed | unavailable).
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const ui = {
    panel: $('agent'), log: $('log'), summary: $('summary'),
    caller: $('caller-speaking'), agent: $('agent-speaking'),
  };
  const MAX_EVENTS = 500; // raw events kept for tests and debugging
  const MAX_ITEMS = 200; // log entries kept on screen in a long call
  const UNHEARD_SHOWN = 80; // characters of a cut reply's unheard rest shown

  const p = {
    es: null, eventsState: 'idle', opened: false,
    transcripts: [], replies: [], latencies: [], interrupts: [], events: [],
    callerSpeaking: false, agentSpeaking: false, agentSpoke: false,
    utterances: new Map(), // utterance id -> { entry, li }
    turns: new Map(), // turn id -> { entry, li }
  };

  // ---- formatting ------------------------------------------------------------

  const fmtMs = (v) => (v == null ? '–' : v < 10 ? v.toFixed(1) : String(Math.round(v)));

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  function reveal() {
    ui.panel.hidden = false;
  }

  // Appends a log entry, newest at the bottom; follows the bottom unless the
  // reader scrolled up.
  function append(li) {
    const atEnd = ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 40;
    ui.log.appendChild(li);
    while (ui.log.children.length > MAX_ITEMS) ui.log.removeChild(ui.log.firstChild);
    if (atEnd) ui.log.scrollTop = ui.log.scrollHeight;
    reveal();
  }

  function follow() {
    const atEnd = ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 120;
    if (atEnd) ui.log.scrollTop = ui.log.scrollHeight;
  }

  function setWho(which, on) {
    const node = which === 'caller' ? ui.caller : ui.agent;
    node.dataset.on = on ? 'true' : 'false';
    node.textContent = which === 'caller' ? (on ? 'You: speaking' : 'You') : (on ? 'Agent: speaking' : 'Agent');
    if (which === 'caller') p.callerSpeaking = on;
    else {
      p.agentSpeaking = on;
      if (on) p.agentSpoke = true;
    }
  }

  // ---- the caller's side -------------------------------------------------------

  function utterance(id) {
    let u = p.utterances.get(id);
    if (!u) {
      const entry = { utterance: id, text: '', final: false, lagMs: null };
      const li = el('li', 'msg caller partial');
      li.dataset.utterance = String(id);
      li.append(el('span', 'by', 'You'), el('span', 'text'));
      u = { entry, li };
      p.utterances.set(id, u);
      p.transcripts.push(entry);
      append(li);
    }
    return u;
  }

  function onTranscript(ev, final) {
    const u = utterance(ev.utterance);
    if (u.entry.final && !final) return; // a late partial never undoes the final
    u.entry.text = ev.text;
    u.entry.final = final;
    if (final) u.entry.lagMs = ev.lag_ms == null ? null : ev.lag_ms;
    u.li.classList.toggle('partial', !final);
    u.li.querySelector('.text').textContent = ev.text + (final ? '' : ' …');
    follow();
  }

  // ---- the agent's side --------------------------------------------------------

  function turn(id) {
    let t = p.turns.get(id);
    if (!t) {
      const entry = { turn: id, text: '', sentences: [], deltas: '', done: false, reason: null,
        interrupted: false, spoken: null, latency: null };
      const li = el('li', 'msg agent');
      li.dataset.turn = String(id);
      li.append(el('span', 'by', 'Agent'), el('span', 'text'));
      t = { entry, li };
      p.turns.set(id, t);
      p.replies.push(entry);
      append(li);
    }
    return t;
  }

  // The reply so far: its sentences, then what the deltas have beyond them
  // (the sentence being written), lighter.
  function replyParts(r) {
    const sent = r.sentences.filter((x) => x).join(' ');
    const d = r.deltas.trim();
    if (!sent) return r.done ? { main: d, tail: '' } : { main: '', tail: d };
    if (!r.done && d.length > sent.length && d.startsWith(sent)) return { main: sent, tail: d.slice(sent.length) };
    return { main: sent, tail: '' };
  }

  function renderReply(t) {
    const r = t.entry;
    const { main, tail } = replyParts(r);
    r.text = (main + tail).trim();
    const text = t.li.querySelector('.text');
    text.textContent = '';
    if (r.spoken != null && main && main.startsWith(r.spoken) && r.spoken.length < main.length) {
      // Cut: what the caller heard, then the start of what they did not
      // (all of it on hover: a cut story would fill the screen).
      const rest = main.slice(r.spoken.length);
      const shown = rest.length > UNHEARD_SHOWN ? rest.slice(0, UNHEARD_SHOWN).replace(/\s+\S*$/, '') + ' …' : rest;
      const unheard = el('span', 'unheard', shown);
      unheard.title = 'not heard: ' + rest.trim();
      text.append(document.createTextNode(r.spoken), unheard);
    } else {
      text.append(document.createTextNode(main));
      if (tail) text.append(el('span', 'tail', tail));
    }
    t.li.classList.toggle('cut', r.interrupted);
    t.li.querySelector('.by').textContent = 'Agent' + (r.interrupted ? ' (interrupted)' : '');
    let lat = t.li.querySelector('.lat');
    if (r.latency) {
      if (!lat) {
        lat = el('span', 'lat');
        t.li.appendChild(lat);
      }
      renderLatency(lat, r.latency);
    }
    follow();
  }

  // "voice-to-voice 610 ms: STT 583 · LLM 0.5 · TTS 27" and a bar of the stages.
  function renderLatency(node, l) {
    node.textContent = '';
    node.append(el('strong', null, `voice-to-voice ${fmtMs(l.voice_to_voice_ms)} ms`));
    const stages = [['stt', 'STT', l.stt_ms], ['llm', 'LLM', l.llm_first_sentence_ms], ['tts', 'TTS', l.tts_first_audio_ms]];
    for (const [cls, name, v] of stages) node.append(' ', el('span', 'key ' + cls, `${name} ${fmtMs(v)}`));
    const bar = el('span', 'bar');
    bar.title = 'end of speech → final transcript → first sentence → first audio out';
    const total = l.voice_to_voice_ms > 0 ? l.voice_to_voice_ms : 1;
    for (const [cls, name, v] of stages) {
      if (!(v > 0)) continue;
      const seg = el('span', cls);
      seg.style.width = Math.max(0.5, Math.min(100, (100 * v) / total)).toFixed(1) + '%';
      seg.title = `${name} ${fmtMs(v)} ms`;
      bar.append(seg);
    }
    node.append(bar);
  }

  function renderSummary() {
    const v = p.latencies.map((l) => l.voice_to_voice_ms).filter((x) => x > 0);
    if (!v.length) return;
    const last = p.latencies[p.latencies.length - 1];
    let text = `Last turn: ${fmtMs(last.voice_to_voice_ms)} ms voice-to-voice`;
    if (v.length > 1) {
      const s = [...v].sort((a, b) => a - b);
      text += ` · median of ${v.length} turns ${fmtMs(s[(s.length - 1) >> 1])} ms`;
    }
    ui.summary.textContent = text;
  }

  // ---- the stream --------------------------------------------------------------

  function handle(ev) {
    p.events.push(ev);
    if (p.events.length > MAX_EVENTS) p.events.shift();
    switch (ev.type) {
      case 'ready':
        setWho('caller', !!ev.caller_speaking);
        setWho('agent', !!ev.agent_speaking);
        break;
      case 'partial': onTranscript(ev, false); break;
      case 'final': onTranscript(ev, true); break;
      case 'reply_delta': {
        const t = turn(ev.turn);
        t.entry.deltas += ev.text;
        renderReply(t);
        break;
      }
      case 'reply_sentence': {
        const t = turn(ev.turn);
        t.entry.sentences[ev.index] = ev.text;
        renderReply(t);
        break;
      }
      case 'reply_done': {
        const t = turn(ev.turn);
        t.entry.done = true;
        t.entry.reason = ev.reason;
        if (ev.reason === 'interrupted') t.entry.interrupted = true;
        renderReply(t);
        break;
      }
      case 'spoken': {
        const t = p.turns.get(ev.turn);
        if (t) {
          t.entry.spoken = ev.text;
          t.entry.interrupted = true;
          renderReply(t);
        }
        break;
      }
      case 'caller_speaking': setWho('caller', !!ev.speaking); break;
      case 'agent_speaking': setWho('agent', !!ev.speaking); break;
      case 'interrupt': {
        p.interrupts.push(ev);
        const t = ev.turn != null ? p.turns.get(ev.turn) : null;
        if (t) {
          t.entry.interrupted = true;
          renderReply(t);
        }
        append(el('li', 'note', 'You interrupted the agent'));
        break;
      }
      case 'latency': {
        p.latencies.push(ev);
        const t = turn(ev.turn);
        t.entry.latency = ev;
        renderReply(t);
        renderSummary();
        break;
      }
      case 'end':
        close('closed');
        break;
      default: break; // a newer server's event: ignored
    }
  }

  function close(state) {
    if (p.es) p.es.close();
    p.es = null;
    p.eventsState = state;
    setWho('caller', false);
    setWho('agent', false);
  }

  function reset() {
    close('idle');
    p.opened = false;
    for (const a of [p.transcripts, p.replies, p.latencies, p.interrupts, p.events]) a.length = 0;
    p.agentSpoke = false;
    p.utterances.clear();
    p.turns.clear();
    ui.log.textContent = '';
    ui.summary.textContent = '';
    ui.panel.hidden = true;
  }

  function open(url, token) {
    reset();
    // EventSource cannot send an Authorization header: the edge takes the
    // token from ?token= on this endpoint only (docs/edge-http.md).
    const events = new URL(url.replace(/\/$/, '') + '/events');
    if (token) events.searchParams.set('token', token);
    let es;
    try {
      es = new EventSource(events.href);
    } catch (e) {
      p.eventsState = 'unavailable';
      return;
    }
    p.es = es;
    p.eventsState = 'connecting';
    es.onopen = () => { p.opened = true; p.eventsState = 'open'; };
    es.onmessage = (m) => {
      let ev;
      try { ev = JSON.parse(m.data); } catch { return; }
      if (ev && typeof ev.type === 'string') handle(ev);
    };
    es.onerror = () => {
      if (es !== p.es) return;
      // CLOSED: refused (404: no event stream here) and never retried;
      // otherwise the browser reconnects by itself.
      if (es.readyState === EventSource.CLOSED) close(p.opened ? 'closed' : 'unavailable');
      else p.eventsState = 'connecting';
    };
  }

  window.addEventListener('voxmesh:session', (e) => open(e.detail.url, e.detail.token));
  window.addEventListener('voxmesh:ended', () => { if (p.es) close('closed'); });

  const api = window.voxmesh || (window.voxmesh = {});
  Object.assign(api, {
    transcripts: p.transcripts, replies: p.replies, latencies: p.latencies,
    interrupts: p.interrupts, events: p.events,
  });
  for (const k of ['callerSpeaking', 'agentSpeaking', 'agentSpoke', 'eventsState']) {
    Object.defineProperty(api, k, { get: () => p[k], enumerable: true });
  }
})();
