// voxmesh browser client: microphone -> WebRTC (WHIP, RFC 9725) -> agent,
// agent's audio -> <audio>. Plain JS, no build step.
//
// Hooks for automated tests: window.voxmesh = { start(), stop(), state,
// pc, sessionUrl, lastError, level, onstate } (playground.js adds the
// conversation's state). It tells the rest of the page about the call with
// window events: 'voxmesh:session' {url, token} once the WHIP session
// exists, 'voxmesh:ended' when it is over.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const ui = {
    start: $('start'), stop: $('stop'), status: $('status'), error: $('error'),
    level: $('level'), remote: $('remote'), token: $('token'), endpoint: $('endpoint'),
  };

  // How long to wait for ICE gathering before sending the offer with the
  // candidates found so far: on a LAN host candidates come in milliseconds,
  // and a stuck STUN lookup must not delay the call.
  const GATHER_TIMEOUT_MS = 2000;

  const s = {
    state: 'disconnected', // disconnected | connecting | connected | error
    pc: null, stream: null, audioCtx: null, meterRaf: 0,
    sessionUrl: null, lastError: null, level: 0, abort: null, generation: 0,
  };

  function setState(state) {
    if (s.state === state) return;
    s.state = state;
    ui.status.textContent = state;
    ui.status.dataset.state = state;
    const busy = state === 'connecting' || state === 'connected';
    ui.start.disabled = busy;
    ui.stop.disabled = !busy && !s.pc;
    if (typeof api.onstate === 'function') api.onstate(state);
  }

  function showError(message) {
    s.lastError = message;
    ui.error.textContent = message || '';
  }

  function authHeaders() {
    const token = ui.token.value.trim();
    return token ? { Authorization: 'Bearer ' + token } : {};
  }

  function startMeter(stream) {
    try {
      s.audioCtx = new AudioContext();
      const source = s.audioCtx.createMediaStreamSource(stream);
      const analyser = s.audioCtx.createAnalyser();
      analyser.fftSize = 1024;
      source.connect(analyser);
      const buf = new Float32Array(analyser.fftSize);
      const tick = () => {
        analyser.getFloatTimeDomainData(buf);
        let sum = 0;
        for (let i = 0; i < buf.length; i++) sum += buf[i] * buf[i];
        const rms = Math.sqrt(sum / buf.length);
        // -60 dBFS .. 0 dBFS onto 0..100 %: speech sits around -30..-10.
        const db = rms > 0 ? 20 * Math.log10(rms) : -100;
        const pct = Math.max(0, Math.min(100, (db + 60) * (100 / 60)));
        s.level = pct;
        ui.level.style.width = pct.toFixed(0) + '%';
        ui.level.setAttribute('aria-valuenow', pct.toFixed(0));
        s.meterRaf = requestAnimationFrame(tick);
      };
      tick();
    } catch (e) {
      console.warn('level meter unavailable:', e);
    }
  }

  function stopMeter() {
    if (s.meterRaf) cancelAnimationFrame(s.meterRaf);
    s.meterRaf = 0;
    if (s.audioCtx) s.audioCtx.close().catch(() => {});
    s.audioCtx = null;
    s.level = 0;
    ui.level.style.width = '0%';
  }

  function waitForGathering(pc) {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        pc.removeEventListener('icegatheringstatechange', check);
        clearTimeout(timer);
        resolve();
      };
      const check = () => { if (pc.iceGatheringState === 'complete') done(); };
      const timer = setTimeout(done, GATHER_TIMEOUT_MS);
      pc.addEventListener('icegatheringstatechange', check);
    });
  }

  async function start() {
    if (s.state === 'connecting' || s.state === 'connected') return;
    const generation = ++s.generation;
    showError('');
    setState('connecting');
    try {
      // Permission first: Chromium offers host candidates only after it.
      s.stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
        video: false,
      });
      if (generation !== s.generation) return;
      startMeter(s.stream);

      const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
      s.pc = pc;
      api.pc = pc;
      pc.addTransceiver(s.stream.getAudioTracks()[0], { direction: 'sendrecv', streams: [s.stream] });
      pc.ontrack = (ev) => {
        ui.remote.srcObject = ev.streams && ev.streams[0] ? ev.streams[0] : new MediaStream([ev.track]);
        ui.remote.play().catch(() => {}); // autoplay may need the click we just had
      };
      pc.onconnectionstatechange = () => {
        if (pc !== s.pc) return;
        switch (pc.connectionState) {
          case 'connected': setState('connected'); break;
          case 'failed':
            showError('connection failed (ICE/DTLS): the media path to the server is blocked');
            setState('error');
            break;
          case 'closed': setState('disconnected'); break;
          default: break; // new/connecting/disconnected: transient
        }
      };

      await pc.setLocalDescription(await pc.createOffer());
      await waitForGathering(pc);
      if (generation !== s.generation) return;

      const endpoint = new URL(ui.endpoint.value || '/whip', location.href);
      s.abort = new AbortController();
      const resp = await fetch(endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/sdp', ...authHeaders() },
        body: pc.localDescription.sdp,
        signal: s.abort.signal,
      });
      const body = await resp.text();
      if (generation !== s.generation) return;
      if (resp.status !== 201) {
        throw new Error('server refused the call: ' + resp.status + ' ' + (body.trim() || resp.statusText));
      }
      const location_ = resp.headers.get('Location');
      if (location_) s.sessionUrl = new URL(location_, endpoint).href;
      api.sessionUrl = s.sessionUrl;
      api.etag = resp.headers.get('ETag');
      if (s.sessionUrl) {
        window.dispatchEvent(new CustomEvent('voxmesh:session',
          { detail: { url: s.sessionUrl, token: ui.token.value.trim() } }));
      }
      await pc.setRemoteDescription({ type: 'answer', sdp: body });
    } catch (e) {
      if (generation !== s.generation) return;
      if (e && e.name === 'AbortError') return;
      const msg = e && e.name === 'NotAllowedError' ? 'microphone permission denied'
        : e && e.name === 'NotFoundError' ? 'no microphone found' : String(e && e.message || e);
      await teardown();
      showError(msg);
      setState('error');
    }
  }

  async function teardown() {
    if (s.abort) s.abort.abort();
    s.abort = null;
    const url = s.sessionUrl;
    s.sessionUrl = null;
    api.sessionUrl = null;
    if (url) window.dispatchEvent(new CustomEvent('voxmesh:ended', { detail: { url } }));
    // DELETE first (RFC 9725 5.2): closing the peer connection first would
    // end the session on the server by DTLS close, and the DELETE would 404.
    if (url) {
      try {
        const resp = await fetch(url, { method: 'DELETE', headers: authHeaders(), keepalive: true });
        if (!resp.ok && resp.status !== 404) console.warn('DELETE', url, resp.status);
      } catch (e) {
        console.warn('DELETE failed:', e);
      }
    }
    if (s.pc) s.pc.close();
    s.pc = null;
    api.pc = null;
    if (s.stream) s.stream.getTracks().forEach((t) => t.stop());
    s.stream = null;
    stopMeter();
    ui.remote.srcObject = null;
  }

  async function stop() {
    s.generation++;
    await teardown();
    setState('disconnected');
  }

  ui.start.addEventListener('click', () => { start(); });
  ui.stop.addEventListener('click', () => { stop(); });
  // Free the server's session when the tab goes away (keepalive fetch).
  window.addEventListener('pagehide', () => {
    if (s.sessionUrl) {
      fetch(s.sessionUrl, { method: 'DELETE', headers: authHeaders(), keepalive: true }).catch(() => {});
      s.sessionUrl = null;
    }
  });

  const params = new URLSearchParams(location.search);
  if (params.get('token')) ui.token.value = params.get('token');
  if (params.get('whip')) ui.endpoint.value = params.get('whip');

  const api = {
    start, stop,
    get state() { return s.state; },
    get lastError() { return s.lastError; },
    get level() { return s.level; },
    pc: null, sessionUrl: null, etag: null, onstate: null,
  };
  window.voxmesh = api;
})();
