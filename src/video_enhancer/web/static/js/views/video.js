// One video: live progress of its job, cancel, then the result, the before/after comparison and
// the download.
import { api } from "../api.js";
import { announce, errorBox, formatBytes, formatDate, formatSeconds, h } from "../dom.js";
import { STAGE_WORDS, STATUS_WORDS, TERMINAL, explainError } from "../messages.js";
import { planText, plannedFor } from "../sizes.js";
import { followJob } from "../stream.js";
import { compareView } from "./compare.js";
import { previewPanel, qualityFacts } from "./preview.js";
import { resumePanel } from "./resume.js";

const QUEUE_POLL_MS = 10_000;

export function videoView(videoId, { onLeave }) {
  const root = h("section", { class: "card" }, h("h1", { tabindex: "-1" }, "Your video"), h("p", { class: "loading" }, "Loading…"));
  load(root, videoId, onLeave);
  return root;
}

async function load(root, videoId, onLeave) {
  let video;
  try {
    video = await api("GET", `/videos/${encodeURIComponent(videoId)}`);
  } catch (error) {
    const { message, hint } = error.status === 404 ? { message: "This video does not exist or was deleted." } : explainError(error);
    root.replaceChildren(h("h1", { tabindex: "-1" }, "Video not found"), errorBox(message, hint), h("a", { href: "#/library" }, "Back to your library"));
    return;
  }
  const job = video.jobs[0];
  const heading = h("h1", { tabindex: "-1" }, video.originalFilename);
  const facts = videoFacts(video);
  root.replaceChildren(heading, facts);
  if (job?.status === "UPLOADED") {
    root.append(previewPanel(video, () => load(root, videoId, onLeave), onLeave));
  } else if (job && !TERMINAL.has(job.status)) {
    root.append(progressPanel(job, () => load(root, videoId, onLeave), onLeave));
    if (job.status === "AWAITING_UPLOAD") root.append(resumePanel(video));
  } else if (job?.status === "COMPLETED") {
    root.append(resultPanel(video));
  } else if (job) {
    root.append(endedPanel(job));
  }
  root.append(h("div", { class: "actions" }, deleteButton(video)));
}

function videoFacts(video) {
  return h("dl", { class: "facts", id: "video-facts" },
    h("dt", {}, "Length"), h("dd", {}, formatSeconds(video.durationSeconds ?? video.claimedDurationSeconds)),
    h("dt", {}, "Size"), h("dd", { id: "size-plan" }, sizePlan(video)),
    h("dt", {}, "File"), h("dd", {}, `${formatBytes(video.sizeBytes)}${video.outputSizeBytes ? ` → ${formatBytes(video.outputSizeBytes)}` : ""}`),
    h("dt", {}, "Uploaded"), h("dd", {}, formatDate(video.uploadedAt ?? video.createdAt)));
}

/** Source → what the enhancer receives → output, once the upload was measured. */
function sizePlan(video) {
  if (video.sourceSize && video.modelInputSize && video.outputSize) return planText(video);
  const planned = plannedFor(video.id);
  if (planned) return `${planText(planned)}, planned`;
  if (video.outputResolution) return `${video.resolution ?? "?"} → ${video.outputResolution}`;
  return video.resolution ?? "measured when processing starts";
}

function progressPanel(job, reload, onLeave) {
  const status = h("p", { class: "status", id: "job-status" });
  const bar = h("progress", { id: "job-progress", max: "100", value: "0", "aria-labelledby": "job-status" });
  const figures = h("dl", { class: "facts figures", id: "job-figures" });
  const connection = h("p", { class: "hint", id: "connection" });
  const feedback = h("div", { class: "feedback" });
  const cancel = h("button", { type: "button", class: "danger", id: "cancel" }, "Cancel");
  const state = { ...job };
  let lastAnnounced = -10;
  const render = () => {
    const stage = state.status === "PROCESSING" && state.stage ? ` — ${STAGE_WORDS[state.stage] ?? state.stage}` : "";
    status.textContent = `${STATUS_WORDS[state.status] ?? state.status}${stage}`;
    status.dataset.status = state.status;
    bar.value = state.progressPercent ?? 0;
    figures.replaceChildren(...jobFigures(state));
    const percent = Math.floor(state.progressPercent ?? 0);
    if (percent >= lastAnnounced + 10) {
      lastAnnounced = percent;
      announce(`${status.textContent}, ${percent} percent`);
    }
  };
  const stream = followJob(job.id, {
    onEvent: (event) => {
      Object.assign(state, definedFields(event.data));
      render();
      if (TERMINAL.has(event.data.status)) {
        announce(STATUS_WORDS[event.data.status]);
        setTimeout(reload, 300);
      }
    },
    onConnection: (how) => { connection.textContent = how === "live" ? "Live" : "Connection lost, reconnecting…"; },
  });
  // The place in line changes as jobs ahead are taken, which is no event of this job: ask for it.
  const queueTimer = setInterval(async () => {
    if (state.status !== "QUEUED") return;
    const fresh = await api("GET", `/jobs/${job.id}`).catch(() => null);
    if (fresh?.status === "QUEUED") {
      Object.assign(state, { queuePosition: fresh.queuePosition, estimatedStartAt: fresh.estimatedStartAt });
      render();
    }
  }, QUEUE_POLL_MS);
  onLeave(() => { stream.stop(); clearInterval(queueTimer); });
  cancel.addEventListener("click", async () => {
    cancel.disabled = true;
    try {
      await api("POST", `/jobs/${job.id}/cancel`);
      announce("Canceling");
    } catch (error) {
      const { message, hint } = explainError(error);
      feedback.replaceChildren(errorBox(message, hint));
      cancel.disabled = false;
    }
  });
  render();
  return h("div", { class: "panel", "aria-labelledby": "job-status", role: "group" }, status, bar, figures, connection, feedback, h("div", { class: "actions" }, cancel));
}

function definedFields(data) {
  return Object.fromEntries(Object.entries(data).filter(([, value]) => value !== null && value !== undefined));
}

function jobFigures(job) {
  const rows = [["Progress", `${(job.progressPercent ?? 0).toFixed(1)} %`]];
  if (job.status === "QUEUED" && job.queuePosition) rows.push(["Place in line", String(job.queuePosition)]);
  if (job.status === "QUEUED" && job.estimatedStartAt) rows.push(["Expected start", formatDate(job.estimatedStartAt)]);
  if (job.framesTotal) rows.push(["Frames", `${job.framesDone ?? 0} of ${job.framesTotal}`]);
  if (job.fps) rows.push(["Speed", `${job.fps.toFixed(1)} frames/s`]);
  if (job.etaSeconds !== null && job.etaSeconds !== undefined && job.status === "PROCESSING") rows.push(["Time left", formatSeconds(job.etaSeconds)]);
  return rows.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]);
}

function resultPanel(video) {
  const job = video.jobs[0];
  const parts = [h("h2", {}, "Result"),
    h("p", { class: "status", "data-status": "COMPLETED", id: "job-status" }, `Ready · ${job.minutesCharged ?? 0} minute${job.minutesCharged === 1 ? "" : "s"} used · ${job.enhancer ?? ""}`)];
  if (video.downloadUrl) {
    parts.push(h("video", { class: "result-video", controls: true, playsinline: true, preload: "metadata", src: video.downloadUrl, poster: video.outputThumbnailUrl ?? undefined, "aria-label": "Enhanced video" }));
    parts.push(h("h2", {}, "Before and after"));
    parts.push(video.sourceUrl
      ? compareView(video.sourceUrl, video.downloadUrl)
      : h("p", { class: "hint" }, "The original is not available for comparison."));
    if (job.quality) parts.push(h("h2", {}, "Fidelity to the original"), qualityFacts(job.quality, "job-quality"));
    parts.push(h("div", { class: "actions" }, h("a", { class: "button primary", id: "download", href: video.downloadUrl, download: "" }, "Download the enhanced video")));
  }
  return h("div", { class: "panel" }, parts);
}

function endedPanel(job) {
  const why = job.errorMessage ? h("p", {}, job.errorMessage) : null;
  return h("div", { class: "panel" },
    h("p", { class: "status", id: "job-status", "data-status": job.status }, STATUS_WORDS[job.status] ?? job.status), why,
    h("p", { class: "hint" }, job.status === "FAILED" ? "No minutes were charged. Try another file or export it again." : "No minutes were charged."));
}

function deleteButton(video) {
  const button = h("button", { type: "button", class: "danger-outline" }, "Delete this video");
  button.addEventListener("click", async () => {
    if (!confirm(`Delete “${video.originalFilename}” and its enhanced version?`)) return;
    await api("DELETE", `/videos/${video.id}`);
    announce("Video deleted");
    location.hash = "#/library";
  });
  return button;
}
