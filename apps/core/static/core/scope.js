// Opens /ws/scope/ and prints the scope the server sent for the WebSocket.
(function () {
  "use strict";
  const status = document.getElementById("ws-status");
  const output = document.getElementById("ws-scope");
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/ws/scope/`);
  socket.onmessage = (event) => {
    const data = JSON.parse(event.data);
    status.textContent = `Scope from ${data.program}:`;
    output.textContent = JSON.stringify(data.scope, null, 2);
    socket.close();
  };
  socket.onerror = () => { status.textContent = "The WebSocket could not connect."; };
})();
