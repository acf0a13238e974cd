// Chat client: no dependencies. Reconnects with exponential backoff and re-sends
// every message the server has not acknowledged (the server stores each once).
// One message is in flight at a time, so that one dropped by the rate limit and
// sent again cannot land after the ones typed later.
(function () {
  "use strict";
  const root = document.querySelector(".chat");
  const room = root.dataset.room;
  const log = document.getElementById("log");
  const online = document.getElementById("online");
  const status = document.getElementById("status");
  const errorBox = document.getElementById("chat-error");
  const form = document.getElementById("send");
  const nameInput = document.getElementById("name");
  const textInput = document.getElementById("text");
  const charCount = document.getElementById("char-count");
  const maxChars = Number(root.dataset.maxChars);

  // Close codes after which reconnecting cannot help.
  const PERMANENT = new Set([4400, 4401, 4404]);
  const pending = new Map();   // client_id -> text, until the server acknowledges it
  const shown = new Set();     // ids of messages already on screen
  let socket = null;
  let me = null;               // the name the server gave this connection
  let inFlight = null;         // the client_id sent and not yet acknowledged
  let attempt = 0;
  let retryTimer = null;
  let resendTimer = null;

  nameInput.value = localStorage.getItem("chat-name") || "";

  function setStatus(text, ok) {
    status.textContent = text;
    status.classList.toggle("off", !ok);
    window.chatConnected = ok;
  }

  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = !text;
  }

  function newClientId() {
    const bytes = crypto.getRandomValues(new Uint8Array(12));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function addMessage(message, isPending) {
    if (message.id !== undefined) {
      if (shown.has(message.id)) { return; }
      shown.add(message.id);
      const draft = message.client_id && log.querySelector(`[data-client-id="${message.client_id}"]`);
      if (draft) { draft.remove(); }
    }
    const row = document.createElement("p");
    row.className = isPending ? "msg pending" : "msg";
    if (message.client_id) { row.dataset.clientId = message.client_id; }
    if (message.author === me || isPending) { row.classList.add("mine"); }
    const author = document.createElement("span");
    author.className = "author";
    author.textContent = message.author;
    const text = document.createElement("span");
    text.textContent = message.text;
    row.append(author, text);
    if (message.created) {
      const time = document.createElement("time");
      time.dateTime = message.created;
      time.textContent = new Date(message.created).toLocaleTimeString();
      row.append(time);
    }
    log.append(row);
    log.scrollTop = log.scrollHeight;
  }

  function notice(text) {
    // One notice line for a run of reconnection attempts, not one per attempt.
    const last = log.lastElementChild;
    const row = last && last.classList.contains("notice") ? last : document.createElement("p");
    row.className = "notice";
    row.textContent = text;
    log.append(row);
    log.scrollTop = log.scrollHeight;
  }

  // Send the oldest unacknowledged message, unless one is on its way.
  function flush() {
    if (inFlight || !socket || socket.readyState !== WebSocket.OPEN) { return; }
    const next = pending.keys().next();
    if (next.done) { return; }
    inFlight = next.value;
    socket.send(JSON.stringify({ type: "message", text: pending.get(inFlight), client_id: inFlight }));
  }

  const handlers = {
    welcome(data) {
      attempt = 0;
      me = data.name;
      setStatus(`online as ${data.name}`, true);
      showError("");
      inFlight = null;
      flush();
    },
    history(data) { data.messages.forEach((m) => addMessage(m, false)); },
    message(data) { addMessage(data, false); },
    ack(data) {
      pending.delete(data.client_id);
      if (data.client_id === inFlight) { inFlight = null; }
      showError("");  // it went through: an earlier refusal no longer applies
      flush();
    },
    presence(data) {
      online.replaceChildren(...data.online.map((name) => {
        const item = document.createElement("li");
        item.textContent = name;
        if (name === me) { item.className = "you"; item.title = "you"; }
        return item;
      }));
    },
    error(data) {
      showError(data.detail);
      const refused = inFlight;
      inFlight = null;
      if (data.code === "rate_limited" || data.code === "unavailable") {
        // Not stored: sent again, first in line, in a second (or on reconnect).
        clearTimeout(resendTimer);
        resendTimer = setTimeout(flush, 1000);
      } else if (refused) {
        // Refused for what it is (invalid_message): sending it again cannot help.
        pending.delete(refused);
        const draft = log.querySelector(`[data-client-id="${refused}"]`);
        if (draft) { draft.classList.replace("pending", "refused"); }
        flush();
      }
    },
  };

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const name = nameInput.value.trim();
    const query = name ? `?name=${encodeURIComponent(name)}` : "";
    socket = new WebSocket(`${scheme}//${location.host}/ws/chat/${room}/${query}`);
    setStatus("connecting", false);
    socket.onmessage = (event) => {
      const data = JSON.parse(event.data);
      (handlers[data.type] || (() => {}))(data);
    };
    socket.onclose = (event) => {
      setStatus("offline", false);
      if (PERMANENT.has(event.code)) { return; }
      // 0.5 s, 1 s, 2 s ... capped at 15 s, with jitter so tabs do not reconnect in step.
      const delay = Math.min(15000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
      attempt += 1;
      notice(`Disconnected; reconnecting in ${(delay / 1000).toFixed(1)} s.`);
      retryTimer = setTimeout(connect, delay);
    };
  }

  function reconnect() {
    clearTimeout(retryTimer);
    if (socket) { socket.onclose = null; socket.close(); }
    attempt = 0;
    connect();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = textInput.value;
    if (!text.trim()) { return; }
    // Code points, as the server counts them (not UTF-16 units).
    const length = [...text].length;
    if (length > maxChars) {
      showError(`Messages are limited to ${maxChars} characters; this one has ${length}.`);
      return;
    }
    const clientId = newClientId();
    pending.set(clientId, text);
    addMessage({ author: nameInput.value.trim() || "you", text: text, client_id: clientId }, true);
    flush();
    textInput.value = "";
    countCharacters();
  });

  function countCharacters() {
    const length = [...textInput.value].length;
    charCount.textContent = `${length} / ${maxChars}`;
    charCount.classList.toggle("over", length > maxChars);
  }
  textInput.addEventListener("input", countCharacters);
  countCharacters();

  nameInput.addEventListener("change", () => {
    localStorage.setItem("chat-name", nameInput.value.trim());
    reconnect();
  });

  connect();
})();
