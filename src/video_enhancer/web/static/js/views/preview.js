// A video uploaded with "preview first": the free before/after preview (request, progress from
// the event stream, comparison, quality), then "Enhance the whole video" (POST /videos/{id}/jobs).
import { api } from "../api.js";
import { announce, errorBox, h } from "../dom.js";
import { PREVIEW_WORDS, explainError } from "../messages.js";
import { followPreview } from "../stream.js";
import { compareView } from "./compare.js";

const STATUS_POLL_MS = 3000;

export function previewPanel(video, reload, onLeave) {
  const preview = video.previews?.[0];
  const feedback = h("div", { class: "feedback" });
  const parts = [h("h2", {}, "Free preview")];
  if (!preview) {
    parts.push(h("p", {}, "See 3 seconds of your video before and after enhancing, at no cost."));
  } else if (preview.status === "COMPLETED") {
    parts.push(...completedParts(preview));
  } else if (preview.status === "FAILED") {
    parts.push(statusLine(preview), errorBox(preview.errorMessage ?? "The preview could not be made.", "No minutes were charged. You can try again or enhance the whole video."));
  } else {
    parts.push(...pendingParts(video, preview, reload, onLeave));
  }
  const actions = h("div", { class: "actions" });
  if (!preview || preview.status === "FAILED") actions.append(requestButton(video, reload, feedback, preview ? "Try the preview again" : "Make a free preview"));
  actions.append(startButton(video, reload, feedback));
  parts.push(feedback, actions);
  return h("div", { class: "panel", id: "preview-panel" }, parts);
}

function statusLine(preview) {
  return h("p", { class: "status", id: "preview-status", "data-status": preview.status }, PREVIEW_WORDS[preview.status] ?? preview.status);
}

function pendingParts(video, preview, reload, onLeave) {
  const status = statusLine(preview);
  const bar = h("progress", { id: "preview-progress", "aria-labelledby": "preview-status" });
  const connection = h("p", { class: "hint", id: "preview-connection" });
  let finished = false;
  const finish = () => { if (!finished) { finished = true; stop(); setTimeout(reload, 300); } };
  const stream = followPreview(preview.id, {
    onEvent: (event) => { announce(event.type === "preview.completed" ? PREVIEW_WORDS.COMPLETED : PREVIEW_WORDS.FAILED); finish(); },
    onConnection: (how) => { connection.textContent = how === "live" ? "Live" : "Connection lost, reconnecting…"; },
  });
  // Taken by a worker (QUEUED → PROCESSING) is no event: ask for it now and then.
  const timer = setInterval(async () => {
    const fresh = await api("GET", `/videos/${encodeURIComponent(video.id)}`).catch(() => null);
    const now = fresh?.previews?.find((item) => item.id === preview.id);
    if (!now || now.status === status.dataset.status) return;
    if (now.status === "COMPLETED" || now.status === "FAILED") { finish(); return; }
    status.dataset.status = now.status;
    status.textContent = PREVIEW_WORDS[now.status] ?? now.status;
    announce(status.textContent);
  }, STATUS_POLL_MS);
  const stop = () => { stream.stop(); clearInterval(timer); };
  onLeave(stop);
  return [status, bar, connection, h("p", { class: "hint" }, "This takes a minute or two. You can leave this page and come back.")];
}

function completedParts(preview) {
  const parts = [statusLine(preview)];
  if (preview.beforeUrl && preview.afterUrl) parts.push(compareView(preview.beforeUrl, preview.afterUrl));
  if (preview.quality) parts.push(qualityFacts(preview.quality, "preview-quality"));
  if (preview.comparisonImageUrl) parts.push(h("p", {}, h("a", { href: preview.comparisonImageUrl, target: "_blank", rel: "noopener" }, "Open a still frame, before | after")));
  return parts;
}

/** PSNR and SSIM in words a person can read. */
export function qualityFacts(quality, id) {
  return h("dl", { class: "facts", id },
    h("dt", {}, "Fidelity (PSNR)"), h("dd", {}, `${quality.psnrDb.toFixed(1)} dB`),
    h("dt", {}, "Structure kept (SSIM)"), h("dd", {}, `${(quality.ssim * 100).toFixed(1)} %`),
    h("dt", {}, "Frames compared"), h("dd", {}, String(quality.sampledFrames)));
}

function requestButton(video, reload, feedback, label) {
  const button = h("button", { type: "button", id: "request-preview" }, label);
  button.addEventListener("click", async () => {
    button.disabled = true;
    feedback.replaceChildren();
    try {
      await api("POST", `/videos/${encodeURIComponent(video.id)}/preview`, { body: {} });
      announce("Preview requested");
      reload();
    } catch (error) {
      showError(feedback, error);
      button.disabled = false;
    }
  });
  return button;
}

function startButton(video, reload, feedback) {
  const button = h("button", { type: "button", class: "primary", id: "start-job" }, "Enhance the whole video");
  button.addEventListener("click", async () => {
    button.disabled = true;
    feedback.replaceChildren();
    try {
      await api("POST", `/videos/${encodeURIComponent(video.id)}/jobs`);
      announce("The whole video is waiting in line");
      reload();
    } catch (error) {
      showError(feedback, error);
      button.disabled = false;
    }
  });
  return button;
}

async function showError(feedback, error) {
  // The plan's limits make a refusal (QUOTA_EXCEEDED, DURATION_EXCEEDED) concrete.
  const me = await api("GET", "/users/me").catch(() => null);
  const { message, hint } = explainError(error, me?.limits);
  feedback.replaceChildren(errorBox(message, hint));
  announce(message);
}
