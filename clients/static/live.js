// The hub's WebSocket as a dependable object: one per page, shared by every view on it.
//
// * connects to /ws on this origin (the session cookie authenticates; the hub checks the Origin);
// * reconnects by itself with exponential backoff and jitter, and says so: `state` is one of
//   connecting, connected, reconnecting, offline ("statechange" events);
// * keeps each stream's seq and epoch and resubscribes with them, so missed events are replayed; when the
//   hub answers `resync` (or on the first subscription) the stream's onReset asks the view to reload;
// * matches replies to commands by id, with a timeout per attempt, and resends a command whose reply was
//   lost with the SAME id (after a reconnect, or on timeout): the hub answers a repeated id with its first
//   answer, so a resend never does anything twice;
// * a close with 4401/4403 (signed out, refused) stops it and fires "unauthenticated";
// * a close with 4409 (the user's role or store changed) reconnects at once, without the backoff wait, and
//   resubscribes as on any reconnect: the hub welcomes it with the new rights, or refuses it (4401/4403).
"use strict";

export const STATES = Object.freeze({
  CONNECTING: "connecting",
  CONNECTED: "connected",
  RECONNECTING: "reconnecting",
  OFFLINE: "offline",
});

const CLOSE_UNAUTHENTICATED = 4401;
const CLOSE_FORBIDDEN = 4403;
const CLOSE_CHANGED = 4409;

/** An error answered by the hub (`code`, `message`, `details`) or raised here (`timeout`, `offline`). */
export class LiveError extends Error {
  constructor(code, message, details) {
    super(message || code);
    this.code = code;
    this.details = details || {};
  }
}

function randomHex(bytes) {
  const data = new Uint8Array(bytes);
  crypto.getRandomValues(data); // unlike randomUUID, also there on plain-http LAN addresses
  return Array.from(data, (b) => b.toString(16).padStart(2, "0")).join("");
}

function sameOriginUrl(path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return scheme + "//" + location.host + path;
}

export class LiveSocket extends EventTarget {
  constructor(options) {
    super();
    const o = options || {};
    this.url = o.url || sameOriginUrl("/ws");
    this.attemptTimeout = o.attemptTimeout || 6000; // ms to wait for one answer before resending
    this.maxAttempts = o.maxAttempts || 3; // sends of one command on live sockets before giving up
    this.queueTimeout = o.queueTimeout || 45000; // ms a command may wait for a connection at all
    this.pingEvery = o.pingEvery || 15000;
    this.backoffBase = o.backoffBase || 500;
    this.backoffMax = o.backoffMax || 15000;
    this.offlineAfter = o.offlineAfter || 5; // failed attempts before "reconnecting" becomes "offline"
    this.state = STATES.CONNECTING;
    this.welcome = null;
    this.ws = null;
    this.stopped = true;
    this.failures = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.prefix = randomHex(8);
    this.counter = 0;
    this.streams = new Map(); // name -> {seq, epoch, onEvent, onReset, subscribing}
    this.pending = new Map(); // id -> command record
    this.onOnline = () => this.connectSoon(0);
    this.onOffline = () => this.setState(STATES.OFFLINE);
  }

  /** A fresh command id: unique per page load and across reloads (a register remembers every id). */
  newId() {
    this.counter += 1;
    return this.prefix + "-" + this.counter;
  }

  start() {
    if (!this.stopped) return this;
    this.stopped = false;
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
    this.connect();
    return this;
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    if (this.ws) this.ws.close(1000);
    this.ws = null;
    for (const id of Array.from(this.pending.keys())) this.fail(id, new LiveError("offline", "stopped"));
  }

  get connected() {
    return this.state === STATES.CONNECTED;
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("statechange", { detail: { state } }));
  }

  // -- connection ---------------------------------------------------------------------------------------

  connect() {
    if (this.stopped) return;
    this.retryTimer = null;
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      this.lost();
      return;
    }
    this.ws = ws;
    ws.addEventListener("message", (event) => {
      if (ws === this.ws) this.receive(event.data);
    });
    ws.addEventListener("close", (event) => {
      if (ws !== this.ws) return;
      this.ws = null;
      if (event.code === CLOSE_UNAUTHENTICATED || event.code === CLOSE_FORBIDDEN) {
        this.stop();
        this.dispatchEvent(new CustomEvent("unauthenticated", { detail: { code: event.code } }));
        return;
      }
      this.lost(event.code === CLOSE_CHANGED);
    });
  }

  /**
   * The socket is gone (or never came up): say so and try again later. `now`: the hub asked us to come back
   * (our rights changed); at once, unless that already happened since the last welcome (then the backoff).
   */
  lost(now) {
    clearInterval(this.pingTimer);
    this.pingTimer = null;
    this.welcome = null;
    for (const stream of this.streams.values()) stream.subscribing = null;
    for (const [id, record] of this.pending) {
      clearTimeout(record.timer);
      record.timer = null;
      if (record.transient) this.fail(id, new LiveError("offline", "connection lost"));
    }
    if (this.stopped) return;
    this.failures += 1;
    const offline = navigator.onLine === false || this.failures > this.offlineAfter;
    this.setState(offline ? STATES.OFFLINE : STATES.RECONNECTING);
    this.connectSoon(now && this.failures === 1 ? 0 : this.backoff());
  }

  /** Exponential backoff with "equal jitter": half fixed, half random, so tills do not reconnect in step. */
  backoff() {
    const ceiling = Math.min(this.backoffMax, this.backoffBase * 2 ** Math.min(this.failures - 1, 10));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  connectSoon(delay) {
    if (this.stopped || this.ws) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Welcome received: resubscribe with our positions, then resend what never got an answer. */
  ready(frame) {
    this.welcome = frame;
    this.failures = 0;
    this.setState(STATES.CONNECTED);
    this.dispatchEvent(new CustomEvent("welcome", { detail: frame }));
    for (const name of this.streams.keys()) this.sendSubscribe(name);
    for (const [id, record] of this.pending) if (!record.subscribe) this.transmit(id, record);
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.heartbeat(), this.pingEvery);
  }

  /** A half-open socket (sleeping laptop, dead Wi-Fi) never closes by itself: a lost pong closes it. */
  heartbeat() {
    const ws = this.ws;
    if (!ws || !this.connected) return;
    this.request("ping", {}, { transient: true, maxAttempts: 1 }).catch(() => {
      if (ws === this.ws) ws.close(4000, "no pong");
    });
  }

  // -- frames -------------------------------------------------------------------------------------------

  receive(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch (err) {
      return;
    }
    switch (frame.type) {
      case "welcome":
        this.ready(frame);
        return;
      case "event":
        this.onEventFrame(frame);
        return;
      case "live": {
        // A transient event (a scale's weight): no sequence number, never replayed; only the latest matters.
        const stream = this.streams.get(frame.stream);
        if (stream) stream.onEvent(frame.event, frame.payload, frame);
        return;
      }
      case "subscribed":
      case "resync":
        this.onSubscribeAnswer(frame);
        this.settle(frame.id, frame, null);
        return;
      case "reply":
        this.settle(frame.id, frame.payload, null);
        return;
      case "pong":
        this.settle(frame.id, frame, null);
        return;
      case "error":
        if (frame.id && this.pending.has(frame.id)) {
          this.settle(frame.id, null, new LiveError(frame.code, frame.message, frame.details));
        } else {
          this.dispatchEvent(new CustomEvent("huberror", { detail: frame }));
        }
        return;
      default:
    }
  }

  settle(id, value, error) {
    const record = id ? this.pending.get(id) : null;
    if (!record) return; // a late duplicate answer to a resent command: the first one won
    this.pending.delete(id);
    clearTimeout(record.timer);
    clearTimeout(record.queueTimer);
    if (!record.transient) this.pendingChanged();
    if (error) record.reject(error);
    else record.resolve(value);
  }

  /** Commands still waiting for their answer (pings and subscriptions aside). */
  get waiting() {
    let count = 0;
    for (const record of this.pending.values()) if (!record.transient) count += 1;
    return count;
  }

  pendingChanged() {
    this.dispatchEvent(new CustomEvent("pendingchange", { detail: { waiting: this.waiting } }));
  }

  fail(id, error) {
    this.settle(id, null, error);
  }

  // -- commands -----------------------------------------------------------------------------------------

  /**
   * Send a command; resolves with the reply's payload, rejects with a LiveError.
   * options.id: reuse an id (a retried checkout must keep its id until it gets an answer).
   */
  request(type, payload, options) {
    const o = options || {};
    const id = o.id || this.newId();
    if (this.pending.has(id)) return this.pending.get(id).promise;
    const record = {
      frame: JSON.stringify({ id, type, payload: payload || {} }),
      attempts: 0,
      maxAttempts: o.maxAttempts || this.maxAttempts,
      timeout: o.timeout || this.attemptTimeout,
      transient: Boolean(o.transient),
      subscribe: type === "subscribe",
      timer: null,
      queueTimer: null,
    };
    record.promise = new Promise((resolve, reject) => {
      record.resolve = resolve;
      record.reject = reject;
    });
    this.pending.set(id, record);
    if (!record.transient) this.pendingChanged();
    record.queueTimer = setTimeout(
      () => this.fail(id, new LiveError("offline", "no connection")),
      o.queueTimeout || this.queueTimeout,
    );
    if (this.connected) this.transmit(id, record);
    else if (record.transient) this.fail(id, new LiveError("offline", "no connection"));
    return record.promise;
  }

  transmit(id, record) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return; // resent by ready()
    record.attempts += 1;
    this.ws.send(record.frame);
    clearTimeout(record.timer);
    record.timer = setTimeout(() => {
      record.timer = null;
      if (!this.pending.has(id)) return;
      if (record.attempts >= record.maxAttempts) this.fail(id, new LiveError("timeout", "no answer from the hub"));
      else this.transmit(id, record);
    }, record.timeout);
  }

  // -- streams ------------------------------------------------------------------------------------------

  /**
   * Follow a stream. onEvent(name, payload, frame) for each event, once, in order; onReset() when the view
   * must reload its state from the hub (first subscription, or the hub could not replay what we missed).
   * handlers.from: {seq, epoch} of a state already loaded (a reply carrying the stream's position): the
   * hub replays what came after it instead of asking for a reload. Returns a function that unsubscribes.
   */
  subscribe(name, handlers) {
    const from = handlers.from || null;
    this.streams.set(name, {
      seq: from ? from.seq : null,
      epoch: from ? from.epoch : null,
      onEvent: handlers.onEvent || (() => {}),
      onReset: handlers.onReset || (() => {}),
      subscribing: null,
    });
    if (this.connected) this.sendSubscribe(name);
    return () => {
      this.streams.delete(name);
      if (this.connected) this.request("unsubscribe", { stream: name }, { transient: true }).catch(() => {});
    };
  }

  sendSubscribe(name) {
    const stream = this.streams.get(name);
    if (!stream) return;
    const payload = { stream: name };
    if (stream.seq !== null && stream.epoch !== null) {
      payload.since = stream.seq;
      payload.epoch = stream.epoch;
    }
    const id = this.newId();
    stream.subscribing = { id, resume: "since" in payload };
    this.request("subscribe", payload, { id, transient: true }).catch((err) => {
      if (err.code === "offline") return; // resubscribed on the next welcome
      this.dispatchEvent(new CustomEvent("huberror", { detail: { id, code: err.code, message: err.message } }));
    });
  }

  onSubscribeAnswer(frame) {
    const stream = this.streams.get(frame.stream);
    if (!stream || !stream.subscribing || stream.subscribing.id !== frame.id) return;
    const resumed = stream.subscribing.resume;
    stream.subscribing = null;
    stream.epoch = frame.epoch;
    if (frame.type === "subscribed" && resumed) return; // the missed events follow this frame
    // First subscription or resync: follow from the hub's position; the view reloads its state.
    stream.seq = frame.seq;
    stream.onReset();
  }

  onEventFrame(frame) {
    const stream = this.streams.get(frame.stream);
    if (!stream) return;
    if (stream.epoch !== null && frame.epoch !== stream.epoch) {
      // The hub's numbering started again without telling us: take the event, then reload to be sure.
      stream.epoch = frame.epoch;
      stream.seq = frame.seq;
      stream.onEvent(frame.event, frame.payload, frame);
      stream.onReset();
      return;
    }
    if (stream.seq !== null && frame.seq <= stream.seq) return; // already seen
    stream.seq = frame.seq;
    stream.onEvent(frame.event, frame.payload, frame);
  }
}

/**
 * The badge's labels in a page's language: every page names them `conn.*` in its texts. With `waiting`,
 * also the text added while commands wait for the connection (pages that send commands: `conn.waiting`).
 */
export function connectionLabels(t, { waiting = false } = {}) {
  const labels = {
    connecting: t("conn.connecting"),
    connected: t("conn.connected"),
    reconnecting: t("conn.reconnecting"),
    offline: t("conn.offline"),
  };
  if (waiting) labels.waiting = (n) => t("conn.waiting", { n });
  return labels;
}

/**
 * Keep a badge element showing the socket's state. labels: {connected, connecting, reconnecting, offline}
 * and optionally waiting(n), the text added while n commands wait for the connection to come back.
 */
export function bindConnectionBadge(live, element, labels) {
  function show() {
    const waiting = live.connected ? 0 : live.waiting;
    const base = labels[live.state] || live.state;
    element.textContent = waiting && labels.waiting ? base + " " + labels.waiting(waiting) : base;
    element.dataset.state = live.state;
    element.dataset.waiting = String(waiting);
  }
  live.addEventListener("statechange", show);
  live.addEventListener("pendingchange", show);
  show();
}
