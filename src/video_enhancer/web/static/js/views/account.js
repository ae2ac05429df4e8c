// Plan, limits, minutes, the usage chart, webhooks and account deletion.
import { api, forgetAfterAccountDeletion } from "../api.js";
import { announce, errorBox, formatBytes, formatDate, formatSeconds, h } from "../dom.js";
import { explainError } from "../messages.js";
import { usageChart } from "./chart.js";
import { webhooksPanel } from "./webhooks.js";

export function accountView() {
  const root = h("section", { class: "card" }, h("h1", { tabindex: "-1" }, "Account"), h("p", { class: "loading" }, "Loading…"));
  load(root);
  return root;
}

async function load(root) {
  try {
    const [me, usage] = await Promise.all([api("GET", "/users/me"), api("GET", "/users/me/usage?days=90")]);
    root.replaceChildren(h("h1", { tabindex: "-1" }, "Account"), planPanel(me), usageChart(usage), webhooksPanel(), deletePanel(me));
  } catch (error) {
    const { message, hint } = explainError(error);
    root.append(errorBox(message, hint));
  }
}

function planPanel(me) {
  const { limits, usage } = me;
  const rows = [
    ["Email", me.email],
    ["Plan", me.plan],
    ["Longest video", formatSeconds(limits.maxDurationSeconds)],
    ["Largest file", formatBytes(limits.maxUploadBytes)],
    ["Output up to", `${limits.maxOutputHeight} pixels high`],
    ["Queue priority", limits.priorityName],
  ];
  if (limits.lifetimeVideos !== null) rows.push(["Videos", `${me.videosCreated} of ${limits.lifetimeVideos} used, ${me.videosRemaining} left`]);
  rows.push(["Minutes used this cycle", String(usage.minutesUsed)]);
  if (usage.minutesHeld) rows.push(["Minutes reserved", `${usage.minutesHeld} (videos in progress)`]);
  rows.push(["Minutes left", usage.minutesRemaining === null ? "not metered on this plan" : `${usage.minutesRemaining} of ${limits.minutesPerCycle}`]);
  rows.push(["Cycle renews", formatDate(usage.cycleEnd)]);
  return h("div", { class: "panel" }, h("h2", {}, "Plan and usage"),
    h("dl", { class: "facts", id: "plan" }, rows.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])));
}

function deletePanel(me) {
  const feedback = h("div", { class: "feedback" });
  const confirmInput = h("input", { id: "delete-confirm", type: "email", autocomplete: "off", "aria-describedby": "delete-hint" });
  const onsubmit = async (event) => {
    event.preventDefault();
    if (confirmInput.value.trim().toLowerCase() !== me.email) {
      feedback.replaceChildren(errorBox("Type your email address exactly to confirm."));
      confirmInput.focus();
      return;
    }
    try {
      await api("DELETE", "/users/me");
      forgetAfterAccountDeletion();
      announce("Your account was deleted");
      location.hash = "#/signup";
    } catch (error) {
      const { message, hint } = explainError(error);
      feedback.replaceChildren(errorBox(message, hint));
    }
  };
  return h("div", { class: "panel danger-zone" }, h("h2", {}, "Delete your account"),
    h("p", { id: "delete-hint" }, "This cancels your jobs, removes every video and signs you out everywhere. It cannot be undone."),
    h("form", { onsubmit },
      h("label", { for: "delete-confirm" }, "Type your email address to confirm"), confirmInput, feedback,
      h("button", { type: "submit", class: "danger", id: "delete-account" }, "Delete my account")));
}
