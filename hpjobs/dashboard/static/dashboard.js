// The dashboard's script: live fragments, and the Converse playground.
"use strict";

// A live fragment (.live[data-live]) is fetched again every data-every milliseconds while its
// job is active; the new fragment's data-active says whether to go on.
function followLive(container) {
  const every = Number(container.dataset.every) || 2000;
  const keepAtBottom = () => {
    const log = container.querySelector("pre.log");
    return log && log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  };
  async function refresh() {
    if (container.dataset.active !== "true") return;
    try {
      const response = await fetch(container.dataset.live, { cache: "no-store" });
      if (response.ok) {
        const follow = keepAtBottom();
        container.innerHTML = await response.text();
        const root = container.querySelector("[data-active]");
        container.dataset.active = root ? root.dataset.active : "false";
        const log = container.querySelector("pre.log");
        if (log && follow) log.scrollTop = log.scrollHeight;
      }
    } catch (error) {
      // The server may be restarting: try again at the next tick.
    }
    setTimeout(refresh, every);
  }
  const log = container.querySelector("pre.log");
  if (log) log.scrollTop = log.scrollHeight;
  setTimeout(refresh, every);
}

// The playground keeps the conversation in the page and sends it whole, as Converse expects.
function playground(form) {
  const models = JSON.parse(document.getElementById("models").textContent);
  const byId = Object.fromEntries(models.map((m) => [m.id, m]));
  const $ = (id) => document.getElementById(id);
  let messages = [];

  const sliders = [
    ["temperature", (v) => v],
    ["top-p", (v) => v],
    ["top-k", (v) => (Number(v) === 0 ? "off" : v)],
    ["max-tokens", (v) => v],
  ];
  for (const [id, show] of sliders) {
    const input = $(id);
    const update = () => { $(id + "-value").textContent = show(input.value); };
    input.addEventListener("input", update);
    update();
  }
  const modelChanged = () => {
    const model = byId[$("model").value];
    const hasTopK = Boolean(model && model.topK);
    $("top-k").disabled = !hasTopK;
    $("top-k-value").textContent = hasTopK ? (Number($("top-k").value) || "off") : "not offered by this model family";
  };
  $("model").addEventListener("change", modelChanged);
  modelChanged();

  function show(role, text) {
    const entry = document.createElement("div");
    entry.className = "message " + role;
    const who = document.createElement("strong");
    who.textContent = { user: "You", assistant: "Model", note: "" }[role];
    const body = document.createElement("pre");
    body.textContent = text;
    entry.append(who, body);
    $("messages").append(entry);
    return entry;
  }

  function request(model) {
    const body = {
      messages,
      inferenceConfig: {
        temperature: Number($("temperature").value),
        topP: Number($("top-p").value),
        maxTokens: Number($("max-tokens").value),
      },
    };
    const stops = $("stop-sequences").value.split("\n").filter((s) => s.length > 0);
    if (stops.length) body.inferenceConfig.stopSequences = stops;
    const system = $("system").value.trim();
    if (system) body.system = [{ text: system }];
    const fields = {};
    const topK = Number($("top-k").value);
    if (model.topK && topK > 0) {
      const path = model.topK;
      let place = fields;
      for (const key of path.slice(0, -1)) place = place[key] = place[key] || {};
      place[path[path.length - 1]] = topK;
    }
    if ($("seed").value !== "") fields.seed = Number($("seed").value);
    if (Object.keys(fields).length) body.additionalModelRequestFields = fields;
    return body;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("prompt").value;
    if (!text.trim()) return;
    const model = byId[$("model").value];
    messages.push({ role: "user", content: [{ text }] });
    show("user", text);
    $("prompt").value = "";
    $("reply-error").hidden = true;
    $("busy").hidden = false;
    $("send").disabled = true;
    try {
      const response = await fetch("/model/" + encodeURIComponent(model.id) + "/converse", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(request(model)),
      });
      const answer = await response.json();
      if (!response.ok) {
        messages.pop();
        const code = response.headers.get("x-amzn-ErrorType") || String(response.status);
        $("reply-error").textContent = code.split(":")[0] + ": " + (answer.message || answer.Message || "");
        $("reply-error").hidden = false;
        return;
      }
      const reply = answer.output.message;
      const text = reply.content.map((block) => block.text || "").join("");
      show("assistant", text);
      if (text.trim()) {
        messages.push(reply);
      } else {
        // Converse refuses a blank message in the history, so this turn is not kept.
        messages.pop();
        show("note", "(an empty reply: this turn is left out of the conversation)");
      }
      $("reply-meta").textContent =
        "stopReason " + answer.stopReason + " · " + answer.usage.inputTokens + " tokens in, " +
        answer.usage.outputTokens + " out · " + answer.metrics.latencyMs + " ms";
    } finally {
      $("busy").hidden = true;
      $("send").disabled = false;
    }
  });
  $("clear").addEventListener("click", () => {
    messages = [];
    $("messages").replaceChildren();
    $("reply-meta").textContent = "";
    $("reply-error").hidden = true;
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".live[data-live]").forEach(followLive);
  const form = document.getElementById("playground");
  if (form) playground(form);
});
