// Webhook endpoints: list, add (the secret is shown once), send a test, rotate the secret, delete.
import { api } from "../api.js";
import { announce, errorBox, h } from "../dom.js";
import { explainError } from "../messages.js";

const EVENT_TYPES = ["job.queued", "job.processing", "job.progress", "job.completed", "job.failed", "job.canceled"];

export function webhooksPanel() {
  const list = h("ul", { class: "webhooks", id: "webhooks" });
  const feedback = h("div", { class: "feedback", "aria-live": "polite" });
  const url = h("input", { id: "webhook-url", type: "url", required: true, placeholder: "https://example.com/hooks/video", inputmode: "url" });
  const boxes = EVENT_TYPES.map((type) => h("input", { type: "checkbox", id: `event-${type}`, value: type, checked: type !== "job.progress" }));
  const refresh = () => loadList(list, feedback);
  const onsubmit = async (event) => {
    event.preventDefault();
    const events = boxes.filter((box) => box.checked).map((box) => box.value);
    try {
      const created = await api("POST", "/webhooks", { body: { url: url.value.trim(), events } });
      showSecret(feedback, created.secret);
      url.value = "";
      refresh();
    } catch (error) {
      const { message, hint } = explainError(error);
      feedback.replaceChildren(errorBox(message, hint));
    }
  };
  refresh();
  return h("div", { class: "panel" }, h("h2", {}, "Webhooks"),
    h("p", { class: "hint" }, "Your server is told about your jobs as they happen (signed with the Standard Webhooks scheme)."),
    list,
    h("form", { onsubmit, class: "webhook-form" },
      h("label", { for: "webhook-url" }, "Endpoint URL"), url,
      h("fieldset", {}, h("legend", {}, "Events"),
        boxes.map((box) => h("span", { class: "check" }, box, h("label", { for: box.id }, box.value)))),
      h("button", { type: "submit" }, "Add endpoint")),
    feedback);
}

async function loadList(list, feedback) {
  try {
    const endpoints = await api("GET", "/webhooks");
    const items = Array.isArray(endpoints) ? endpoints : endpoints.items ?? [];
    list.replaceChildren(...(items.length ? items.map((endpoint) => item(endpoint, list, feedback)) : [h("li", { class: "hint" }, "No endpoints.")]));
  } catch (error) {
    feedback.replaceChildren(errorBox(explainError(error).message));
  }
}

function item(endpoint, list, feedback) {
  const act = (label, action) => {
    const button = h("button", { type: "button", class: "small", "aria-label": `${label}: ${endpoint.url}` }, label);
    button.addEventListener("click", async () => {
      try {
        await action();
        loadList(list, feedback);
      } catch (error) {
        feedback.replaceChildren(errorBox(explainError(error).message));
      }
    });
    return button;
  };
  const base = `/webhooks/${endpoint.id}`;
  return h("li", { class: "webhook" },
    h("div", {}, h("span", { class: "title" }, endpoint.url),
      h("p", { class: "meta" }, endpoint.enabled ? "Enabled" : `Disabled${endpoint.disabledReason ? `: ${endpoint.disabledReason}` : ""}`, ` · ${endpoint.events.join(", ")}`)),
    h("div", { class: "actions" },
      act("Send test", async () => { await api("POST", `${base}/test`); announce("Test event sent"); }),
      act("New secret", async () => showSecret(feedback, (await api("POST", `${base}/rotate-secret`)).secret)),
      endpoint.enabled ? null : act("Enable", () => api("POST", `${base}/enable`)),
      act("Delete", () => api("DELETE", base))));
}

function showSecret(feedback, secret) {
  feedback.replaceChildren(h("div", { class: "notice" },
    h("p", {}, "Signing secret (shown only now; store it on your server):"), h("code", { class: "secret" }, secret)));
  announce("Webhook endpoint saved; its secret is shown once");
}
