// Follow a run as it happens: each progress line arrives as a Server-Sent Event and is
// added to the log; at the end the page reloads to show the run's recorded result.
(function () {
  const log = document.getElementById("log");
  const source = new EventSource(`/api/v1/runs/${log.dataset.run}/events`);
  const seen = new Set([...log.querySelectorAll("li")].map((li) => li.dataset.event));
  source.addEventListener("progress", (event) => {
    if (seen.has(event.lastEventId)) return;
    seen.add(event.lastEventId);
    const data = JSON.parse(event.data);
    const item = document.createElement("li");
    item.dataset.event = event.lastEventId;
    const when = document.createElement("span");
    when.className = "kv";
    when.textContent = `${data.at.slice(11, 19)} ${data.host}`;
    item.append(when, ` ${data.message}`);
    log.append(item);
    document.getElementById("state").textContent = "running";
  });
  source.addEventListener("end", () => {
    source.close();
    window.location.reload();
  });
})();
