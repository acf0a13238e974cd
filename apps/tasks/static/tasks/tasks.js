// Submit a job, then follow it twice: over a WebSocket and over Server-Sent Events.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const form = $("job-form");
  let followers = [];

  function show(transport, job) {
    $(`${transport}-progress`).value = job.progress;
    const status = $(`${transport}-status`);
    status.textContent = job.lost ? `${job.status} (lost)` : job.status;
    status.className = job.status === "failed" || job.lost ? "badge off" : "badge";
    $("job-state").textContent = JSON.stringify(job, null, 2);
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
  }

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
