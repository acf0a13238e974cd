// Connects to each echo endpoint and measures the median round trip of a burst.
(function () {
  "use strict";
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const rows = [...document.querySelectorAll("#echo-results tr[data-path]")];
  const sockets = new Map();

  function connect(row) {
    const socket = new WebSocket(`${scheme}//${location.host}${row.dataset.path}`);
    socket.onopen = () => { row.querySelector(".status").textContent = "open"; };
    socket.onclose = () => { row.querySelector(".status").textContent = "closed"; };
    sockets.set(row, socket);
  }

  function burst(row, count) {
    const socket = sockets.get(row);
    const times = [];
    return new Promise((resolve) => {
      let sentAt = 0;
      const sendNext = () => { sentAt = performance.now(); socket.send(`ping ${times.length}`); };
      socket.onmessage = () => {
        times.push(performance.now() - sentAt);
        if (times.length < count) { sendNext(); } else { resolve(times); }
      };
      sendNext();
    });
  }

  function median(values) {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  }

  document.getElementById("echo-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const count = Number(document.getElementById("echo-count").value) || 100;
    for (const row of rows) {
      if (sockets.get(row).readyState !== WebSocket.OPEN) { continue; }
      const times = await burst(row, count);
      row.querySelector(".rtt").textContent = `${median(times).toFixed(2)} ms`;
    }
  });

  rows.forEach(connect);
})();
