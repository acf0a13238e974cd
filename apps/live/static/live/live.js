// The live page: two EventSource feeds, a long-poll loop and the process stats.
(function () {
  "use strict";
  const LOG_LINES = 50;
  const csrf = document.querySelector("[name=csrfmiddlewaretoken]").value;
  const $ = (id) => document.getElementById(id);

  function log(list, text, className) {
    const item = document.createElement("li");
    item.textContent = text;
    if (className) item.className = className;
    list.prepend(item);
    while (list.children.length > LOG_LINES) list.lastChild.remove();
  }

  // One EventSource; the browser reconnects by itself and sends Last-Event-ID.
  function follow(url, kinds, list, status) {
    const source = new EventSource(url);
    source.onopen = () => { status.textContent = "open"; status.className = "badge"; };
    source.onerror = () => { status.textContent = "reconnecting"; status.className = "badge off"; };
    for (const [kind, render] of Object.entries(kinds)) {
      source.addEventListener(kind, (event) => {
        log(list, `#${event.lastEventId || "-"} ${render(JSON.parse(event.data))}`,
            kind === "gap" || kind === "unavailable" ? "gap" : "");
      });
    }
    return source;
  }

  const topicKinds = {
    tick: (e) => `tick ${e.data.tick}: load ${e.data.load.toFixed(2)}`,
    note: (e) => `note: ${e.data.text}`,
    gap: (e) => `missed ${e.first_missed}..${e.last_missed} (past retention)`,
    unavailable: (e) => e.detail,
  };
  const roomKinds = {
    message: (m) => `${m.author}: ${m.text}`,
    presence: (p) => `online: ${p.online.join(", ") || "nobody"}`,
    unavailable: (e) => e.detail,
  };

  let topicSource = null;
  let pollTopic = null;
  let pollRequest = new AbortController();
  function followTopic(topic) {
    if (topicSource) topicSource.close();
    $("topic-log").replaceChildren();
    topicSource = follow(`/live/topics/${topic}/sse`, topicKinds, $("topic-log"), $("topic-status"));
    pollTopic = topic;
    // A poll on the old topic would wait out its timeout: end it now.
    pollRequest.abort();
  }

  let roomSource = null;
  function followRoom(room) {
    if (roomSource) roomSource.close();
    $("room-log").replaceChildren();
    $("room-link").href = `/chat/${room}/`;
    roomSource = follow(`/live/chat/${room}/sse`, roomKinds, $("room-log"), $("room-status"));
  }

  $("topic-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const topic = $("topic").value;
    if (topic !== pollTopic) followTopic(topic);
    const text = $("note").value.trim();
    if (!text) return;
    const response = await fetch(`/live/topics/${topic}/events`, {
      method: "POST",
      headers: { "X-CSRFToken": csrf },
      body: new URLSearchParams({ text }),
    });
    if (response.ok) $("note").value = "";
    else log($("topic-log"), `not published: ${(await response.json()).detail}`, "gap");
  });
  $("room-form").addEventListener("submit", (event) => {
    event.preventDefault();
    followRoom($("room").value);
  });

  // Long-poll: one request at a time, each continuing after the last seq seen.
  async function poll() {
    let after = "";
    let topic = pollTopic;
    for (;;) {
      if (topic !== pollTopic) { topic = pollTopic; after = ""; }
      pollRequest = new AbortController();
      try {
        const response = await fetch(`/live/topics/${topic}/poll?after=${after}`,
          { signal: pollRequest.signal });
        if (response.status === 200) {
          const body = await response.json();
          for (const e of body.events) log($("poll-log"), `#${e.seq} ${e.kind} (200)`);
          after = body.last;
        } else if (response.status === 204) {
          log($("poll-log"), "no event before the timeout (204)");
        } else {
          throw new Error(`HTTP ${response.status}`);
        }
      } catch (error) {
        if (error.name === "AbortError") continue;  // the topic changed
        log($("poll-log"), `poll failed: ${error.message}; retrying`, "gap");
        await new Promise((resolve) => setTimeout(resolve, 3000));
      }
    }
  }

  async function refreshStats() {
    const response = await fetch("/live/stats.json");
    if (response.ok) $("stats").textContent = JSON.stringify(await response.json(), null, 2);
  }

  // The downloads table, kept current: a download runs in another tab or
  // window, and its record changes as it streams and when it ends.
  async function refreshExports() {
    const response = await fetch("/live/exports.json");
    if (!response.ok) return;
    const { exports } = await response.json();
    const table = $("exports");
    const rows = exports.slice(0, 10).map((item) => {
      const row = document.createElement("tr");
      for (const value of [item.id, item.rows_produced, item.rows_requested, item.status]) {
        const cell = document.createElement("td");
        cell.textContent = value;
        row.append(cell);
      }
      return row;
    });
    table.replaceChildren(table.rows[0], ...rows);
  }

  followTopic($("topic").value);
  followRoom($("room").value);
  poll();
  refreshStats();
  setInterval(refreshStats, 3000);
  setInterval(refreshExports, 3000);
})();
