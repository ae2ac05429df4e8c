// The user's videos, newest first: status, size plan (source → output), delete.
import { api } from "../api.js";
import { announce, errorBox, formatBytes, formatDate, formatSeconds, h } from "../dom.js";
import { STATUS_WORDS, explainError } from "../messages.js";

const PAGE_SIZE = 50;

export function libraryView() {
  const list = h("ul", { class: "library", id: "library" }, h("li", { class: "loading" }, "Loading…"));
  const root = h("section", { class: "card" }, h("h1", { tabindex: "-1" }, "Your videos"), list);
  load(list);
  return root;
}

async function load(list) {
  try {
    const page = await api("GET", `/videos?limit=${PAGE_SIZE}&offset=0`);
    if (!page.items.length) {
      list.replaceChildren(h("li", { class: "empty" }, "No videos yet. ", h("a", { href: "#/upload" }, "Upload your first one.")));
      return;
    }
    list.replaceChildren(...page.items.map((video) => item(video, list)));
    if (page.total > page.items.length) list.append(h("li", { class: "hint" }, `Showing the newest ${page.items.length} of ${page.total}.`));
  } catch (error) {
    const { message, hint } = explainError(error);
    list.replaceChildren(h("li", {}, errorBox(message, hint)));
  }
}

function item(video, list) {
  const remove = h("button", { type: "button", class: "danger-outline small", "aria-label": `Delete ${video.originalFilename}` }, "Delete");
  remove.addEventListener("click", async () => {
    if (!confirm(`Delete “${video.originalFilename}”?`)) return;
    await api("DELETE", `/videos/${video.id}`);
    announce(`${video.originalFilename} deleted`);
    load(list);
  });
  const size = video.sourceSize && video.outputSize
    ? `${video.sourceSize.width}x${video.sourceSize.height} → ${video.outputSize.width}x${video.outputSize.height}`
    : video.outputResolution ? `${video.resolution} → ${video.outputResolution}` : video.resolution ?? "";
  const poster = video.outputThumbnailUrl ?? video.thumbnailUrl;
  return h("li", { class: "library-item" },
    poster ? h("img", { class: "thumbnail", src: poster, alt: "", loading: "lazy" }) : h("span", { class: "thumbnail empty", "aria-hidden": "true" }),
    h("div", { class: "library-text" },
      h("a", { href: `#/videos/${video.id}`, class: "title" }, video.originalFilename),
      h("p", { class: "meta" },
        h("span", { class: `badge status-${(video.status ?? "none").toLowerCase()}` }, STATUS_WORDS[video.status] ?? "No job"),
        ` ${formatSeconds(video.durationSeconds ?? video.claimedDurationSeconds)} · ${formatBytes(video.sizeBytes)}`,
        video.outputSizeBytes ? ` → ${formatBytes(video.outputSizeBytes)}` : "",
        size ? ` · ${size}` : "", ` · ${formatDate(video.createdAt)}`)),
    remove);
}
