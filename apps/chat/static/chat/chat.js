// Chat client: no dependencies. Reconnects with exponential backoff and re-sends
// every message the server has not acknowledged (the server stores each once).
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
  const maxChars = Number(root.dataset.maxChars);

  // Close codes after which reconnecting cannot help.
  const PERMANENT = new Set([4400, 4401, 4404]);
  const pending = new Map();   // client_id -> text, until the server acknowledges it
  const shown = new Set();     // ids of messages already on screen
  let socket = null;
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

  function send(clientId, text) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "message", text: text, client_id: clientId }));
    }
  }

  const handlers = {
    welcome(data) {
      attempt = 0;
      setStatus(`online as ${data.name}`, true);
      showError("");
      pending.forEach((text, clientId) => send(clientId, text));
    },
    history(data) { data.messages.forEach((m) => addMessage(m, false)); },
    message(data) { addMessage(data, false); },
    ack(data) { pending.delete(data.client_id); },
    presence(data) {
      online.replaceChildren(...data.online.map((name) => {
        const item = document.createElement("li");
        item.textContent = name;
        return item;
      }));
    },
    error(data) {
      showError(data.detail);
      // A dropped message is still pending: send what is unacknowledged again
      // once the rate allows (the server stores each client_id once).
      if (data.code === "rate_limited") {
        clearTimeout(resendTimer);
        resendTimer = setTimeout(() => pending.forEach((text, id) => send(id, text)), 1000);
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
    send(clientId, text);
    textInput.value = "";
  });

  nameInput.addEventListener("change", () => {
    localStorage.setItem("chat-name", nameInput.value.trim());
    reconnect();
  });

  connect();
})();
