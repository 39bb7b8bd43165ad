// aipath dashboard wiring: live updates (server-sent events), buttons (fetch), charts (Plotly).
// Everything the page shows is rendered by the server; this file only moves it into place.
(() => {
  "use strict";
  const body = document.body;
  const STATUS = { passed: "passed", failed: "failed", "not-attempted": "not attempted", error: "error" };

  // The part of a lab's title before its colon ("Vectorize with NumPy"), else its id.
  function shortTitle(ev) {
    return ev.title ? ev.title.split(":")[0] : ev.lab;
  }

  // ------------------------------------------------------------------------------ toasts
  function toast(text, kind) {
    const box = document.getElementById("toasts");
    if (!box) return;
    if (text.length > 140) text = text.slice(0, 137) + "…";
    const el = document.createElement("div");
    el.className = "toast" + (kind ? " toast-" + kind : "");
    el.textContent = text;
    box.appendChild(el);
    setTimeout(() => el.classList.add("fade"), 3500);
    setTimeout(() => el.remove(), 4200);
  }

  // --------------------------------------------------------------------------------- API
  async function api(method, url, payload) {
    const init = { method, headers: { accept: "application/json" } };
    if (payload !== undefined) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(payload);
    }
    const res = await fetch(url, init);
    let data = null;
    try { data = await res.json(); } catch (_) { /* no body */ }
    if (!res.ok) {
      const msg = data && data.error ? data.error + (data.hint ? " — " + data.hint : "") : res.statusText;
      throw new Error(msg);
    }
    return data;
  }

  // ------------------------------------------------------------------------------ charts
  function drawCharts(root) {
    if (!window.Plotly) return;
    root.querySelectorAll("[data-figure]").forEach((div) => {
      const source = document.getElementById(div.dataset.figure);
      if (!source) return;
      const fig = JSON.parse(source.textContent);
      window.Plotly.newPlot(div, fig.data, fig.layout, { displaylogo: false, responsive: true });
    });
  }

  // ------------------------------------------------------ swap fresh server HTML into place
  async function swap(ids) {
    if (!ids.length) return;
    const res = await fetch(location.href, { headers: { accept: "text/html" } });
    if (!res.ok) return;
    const doc = new DOMParser().parseFromString(await res.text(), "text/html");
    let charts = false;
    for (const id of ids) {
      const fresh = doc.getElementById(id);
      const current = document.getElementById(id);
      if (fresh && current) {
        if (window.Plotly) current.querySelectorAll(".js-plotly-plot").forEach((div) => window.Plotly.purge(div));
        current.replaceWith(fresh);
        charts = charts || fresh.querySelector("[data-figure]") !== null;
      }
    }
    if (charts) drawCharts(document);
  }

  let pending = null;
  function refresh() {
    const ids = (body.dataset.swap || "").split(/\s+/).filter(Boolean);
    if (!ids.length || pending) return;
    pending = setTimeout(() => {
      pending = null;
      swap(ids).catch(() => {});
    }, 120);
  }

  // -------------------------------------------------------------------------- live events
  function setLive(state, text) {
    const live = document.getElementById("live");
    if (!live) return;
    live.dataset.state = state;
    live.querySelector(".live-text").textContent = text;
  }

  function setWorker(state, confinement) {
    const el = document.getElementById("worker");
    if (!el) return;
    el.dataset.state = state;
    el.textContent = "grader: " + state + (confinement ? " · not confined" : "");
    el.title = confinement || "checks run confined by the operating system";
  }

  function connect() {
    if (!window.EventSource) return;
    const source = new EventSource("/api/events");
    let connectedBefore = false;
    source.addEventListener("hello", (e) => {
      const info = JSON.parse(e.data);
      setLive("on", "live");
      setWorker(info.worker, info.confinement);
      if (connectedBefore) refresh(); // catch up on what happened while disconnected
      connectedBefore = true;
    });
    source.addEventListener("checking", (e) => {
      const ev = JSON.parse(e.data);
      if (ev.lab === body.dataset.lab) {
        const card = document.getElementById("verdict-card");
        if (card) card.classList.add("checking");
      }
    });
    source.addEventListener("verdict", (e) => {
      const ev = JSON.parse(e.data);
      const card = document.getElementById("verdict-card");
      if (card && ev.lab === body.dataset.lab) card.classList.remove("checking");
      toast(shortTitle(ev) + ": " + (STATUS[ev.status] || ev.status) + " — " + ev.summary, ev.status);
      if (!body.dataset.lab || body.dataset.lab === ev.lab) refresh();
    });
    source.addEventListener("check-failed", (e) => {
      const ev = JSON.parse(e.data);
      const card = document.getElementById("verdict-card");
      if (card && ev.lab === body.dataset.lab) card.classList.remove("checking");
      toast(shortTitle(ev) + ": the check could not run (" + ev.error + ")", "error");
    });
    source.addEventListener("worker", (e) => {
      const ev = JSON.parse(e.data);
      setWorker(ev.state, ev.confinement);
    });
    source.addEventListener("watcher", (e) => {
      const ev = JSON.parse(e.data);
      toast("file watcher: " + ev.mode + (ev.reason ? " (" + ev.reason + ")" : ""), "failed");
    });
    source.onerror = () => setLive("off", "reconnecting…");
  }

  // ------------------------------------------------------------------------------ actions
  async function onAction(button) {
    const lab = button.dataset.lab;
    const action = button.dataset.action;
    if (action === "check") {
      const label = button.textContent;
      button.disabled = true;
      button.textContent = "Checking…";
      try {
        await api("POST", "/api/labs/" + lab + "/check");
        await swap((body.dataset.swap || "").split(/\s+/).filter(Boolean));
      } finally {
        button.disabled = false;
        button.textContent = label;
      }
    } else if (action === "hint") {
      const hint = await api("POST", "/api/labs/" + lab + "/hints");
      const list = document.getElementById("hint-list");
      if (hint.new && list) {
        const li = document.createElement("li");
        li.className = "hint revealed";
        li.textContent = hint.text;
        list.appendChild(li);
      }
      const count = document.getElementById("hint-count");
      if (count) count.textContent = hint.tier + "/" + hint.total;
      if (hint.tier >= hint.total) {
        const done = document.createElement("p");
        done.className = "muted small";
        done.textContent = "That is every hint.";
        button.nextElementSibling && button.nextElementSibling.remove();
        button.replaceWith(done);
      } else {
        button.textContent = "Reveal hint " + (hint.tier + 1) + " of " + hint.total;
      }
    } else if (action === "solution") {
      const confirmFirst = button.dataset.confirm === "1";
      if (confirmFirst && !window.confirm("Reveal the solution before passing? It is recorded in your progress.")) return;
      const solution = await api("POST", "/api/labs/" + lab + "/solution", { confirm: confirmFirst });
      const pre = document.getElementById("solution");
      pre.querySelector("code").innerHTML = solution.html; // highlighted and escaped by the server
      pre.hidden = false;
      button.hidden = true;
    }
  }

  document.addEventListener("click", (event) => {
    const target = event.target.closest("button");
    if (!target) return;
    const run = (promise) => promise.catch((err) => toast(err.message, "error"));
    if (target.dataset.action) {
      run(onAction(target));
    } else if (target.dataset.copy) {
      const el = document.querySelector(target.dataset.copy);
      if (el && navigator.clipboard) {
        run(navigator.clipboard.writeText(el.textContent.trim()).then(() => toast("path copied")));
      }
    } else if (target.dataset.markResource) {
      const id = target.dataset.markResource;
      const state = target.dataset.state;
      run(api("PUT", "/api/marks/" + encodeURIComponent(id), { state }).then(() => {
        const done = state === "done";
        target.dataset.state = done ? "pending" : "done";
        target.textContent = done ? "✓ done" : "mark done";
        target.closest(".resource").classList.toggle("resource-done", done);
      }));
    } else if (target.hasAttribute("data-edit-note") || target.hasAttribute("data-cancel-note")) {
      const box = target.closest("[data-note]");
      const editing = target.hasAttribute("data-edit-note");
      box.querySelector(".note-editor").hidden = !editing;
      box.querySelector(".note-text").hidden = editing;
      if (editing) box.querySelector("textarea").focus();
    } else if (target.hasAttribute("data-save-note")) {
      const box = target.closest("[data-note]");
      const text = box.querySelector("textarea").value;
      run(api("PUT", "/api/notes/" + encodeURIComponent(box.dataset.note), { text }).then((saved) => {
        const shown = box.querySelector(".note-text");
        shown.textContent = text.trim() || "No notes yet.";
        shown.classList.toggle("empty", !text.trim());
        shown.hidden = false;
        box.querySelector(".note-editor").hidden = true;
        toast(saved.message);
      }));
    }
  });

  document.addEventListener("change", (event) => {
    const select = event.target.closest("select[data-mark]");
    if (!select) return;
    api("PUT", "/api/marks/" + encodeURIComponent(select.dataset.mark), { state: select.value })
      .then((saved) => {
        select.className = "mark-" + select.value;
        toast(saved.message);
      })
      .catch((err) => toast(err.message, "error"));
  });

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-log-resource]");
    if (!form) return;
    event.preventDefault();
    const duration = form.elements.duration.value;
    api("POST", "/api/study", { duration, resource_id: form.dataset.logResource })
      .then((saved) => {
        form.reset();
        toast(saved.message);
        // The hours logged on this resource and its topic, fresh from the server.
        const item = form.closest("[id]");
        if (item) swap([item.id]).catch(() => {});
      })
      .catch((err) => toast(err.message, "error"));
  });

  // A link to /roadmap#topic-… lands inside a closed phase: open it so the topic shows.
  function openTarget() {
    const el = location.hash ? document.getElementById(location.hash.slice(1)) : null;
    const phase = el && el.closest("details");
    if (phase && !phase.open) {
      phase.open = true;
      el.scrollIntoView();
    }
  }
  window.addEventListener("hashchange", openTarget);

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-profile]");
    if (!form) return;
    event.preventDefault();
    const data = new FormData(form);
    const payload = {
      hours_per_week: Number(data.get("hours_per_week")),
      background: data.get("background"),
      track: data.get("track") || "none",
      start: data.get("start") || null,
    };
    api("PUT", "/api/profile", payload)
      .then(() => {
        toast("profile saved: the plan follows it");
        refresh();
      })
      .catch((err) => toast(err.message, "error"));
  });

  window.addEventListener("DOMContentLoaded", () => {
    drawCharts(document);
    openTarget();
  });
  connect();
})();
