// Submit a job, then follow it twice: over a WebSocket and over Server-Sent Events.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const form = $("job-form");
  // Seconds a worker job may stay queued before the page asks about the worker.
  const WORKER_HINT_AFTER = 3;
  let followers = [];
  let latest = null;
  let hintTimer = null;

  function show(transport, job) {
    $(`${transport}-progress`).value = job.progress;
    const status = $(`${transport}-status`);
    status.textContent = job.lost ? `${job.status} (lost)` : job.status;
    status.className = ["failed", "refused"].includes(job.status) || job.lost ? "badge off" : "badge";
    $("job-state").textContent = JSON.stringify(job, null, 2);
    latest = job;
    if (job.status !== "queued") $("job-hint").hidden = true;
  }

  // Frames may repeat (state on connect, then updates): keep the highest version.
  function newer(seen, job) { return job.version > seen.version ? job : seen; }

  function followOverWebSocket(id) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/ws/tasks/jobs/${id}/`);
    let seen = { version: 0 };
    socket.onmessage = (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type === "job") { seen = newer(seen, frame.job); show("ws", seen); }
    };
    socket.onclose = () => { $("ws-status").className = "badge off"; };
    return () => socket.close();
  }

  function followOverSSE(id) {
    const source = new EventSource(`/tasks/jobs/${id}/sse`);
    let seen = { version: 0 };
    source.addEventListener("job", (event) => {
      seen = newer(seen, JSON.parse(event.data));
      show("sse", seen);
    });
    return () => source.close();
  }

  function follow(id) {
    followers.forEach((stop) => stop());
    $("job").hidden = false;
    $("job-id").textContent = id;
    followers = [followOverWebSocket(id), followOverSSE(id)];
    latest = null;
    $("job-hint").hidden = true;
    clearTimeout(hintTimer);
    hintTimer = setTimeout(() => {
      const waiting = latest && latest.status === "queued" && latest.runner === "worker";
      $("job-hint").hidden = !waiting;
    }, WORKER_HINT_AFTER * 1000);
  }

  // The recent jobs table, kept current (jobs end while the page is open).
  async function refreshJobs() {
    const response = await fetch("/tasks/jobs.json");
    if (!response.ok) return;
    const { jobs } = await response.json();
    const table = $("jobs");
    table.replaceChildren(table.rows[0], ...jobs.map((job) => {
      const row = document.createElement("tr");
      const link = document.createElement("a");
      link.href = `#${job.id}`;
      link.textContent = `${job.id.slice(0, 8)}…`;
      link.addEventListener("click", () => follow(job.id));
      const cells = [link, job.kind, job.runner, job.lost ? `${job.status} (lost)` : job.status,
        `${job.progress}%`, job.error];
      for (const value of cells) {
        const cell = document.createElement("td");
        cell.append(value ?? "");
        row.append(cell);
      }
      return row;
    }));
  }
  setInterval(refreshJobs, 3000);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = new FormData(form);
    body.set("runner", event.submitter.value);
    const response = await fetch(form.action, { method: "POST", body });
    const reply = await response.json();
    $("job-error").hidden = response.ok;
    if (!response.ok) { $("job-error").textContent = reply.detail; return; }
    location.hash = reply.job.id;
    follow(reply.job.id);
  });

  document.querySelectorAll("[data-job]").forEach((link) => {
    link.addEventListener("click", () => follow(link.dataset.job));
  });
  if (location.hash.length > 1) follow(location.hash.slice(1));
})();
