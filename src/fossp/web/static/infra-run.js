// Follow a run as it happens: each progress line arrives as a Server-Sent Event and is
// added to the log (marked "live"); at the end the state is shown, and a link reloads the
// page with the run's recorded result.
(function () {
  const log = document.getElementById("log");
  const state = document.getElementById("state");
  const source = new EventSource(`/api/v1/runs/${log.dataset.run}/events`);
  const seen = new Set([...log.querySelectorAll("li")].map((li) => li.dataset.event));
  source.addEventListener("progress", (event) => {
    if (seen.has(event.lastEventId)) return;
    seen.add(event.lastEventId);
    const data = JSON.parse(event.data);
    const item = document.createElement("li");
    item.className = "live";
    item.dataset.event = event.lastEventId;
    const when = document.createElement("span");
    when.className = "kv";
    when.textContent = `${data.at.slice(11, 19)} ${data.host}`;
    item.append(when, ` ${data.message}`);
    log.append(item);
    state.textContent = "running";
  });
  source.addEventListener("end", (event) => {
    source.close();
    const end = JSON.parse(event.data);
    state.textContent = end.state;
    state.dataset.ended = "yes";
    const more = document.createElement("a");
    more.id = "see-result";
    more.href = window.location.pathname;
    more.textContent = end.error ? ` ${end.error}; see the result` : " see the result";
    state.after(more);
  });
})();
