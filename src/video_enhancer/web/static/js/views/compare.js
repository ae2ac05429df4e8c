// Before/after: the two videos stacked and played together; a slider uncovers the original.
import { h } from "../dom.js";

const DRIFT_SECONDS = 0.15;

export function compareView(sourceUrl, enhancedUrl) {
  const after = h("video", { class: "compare-after", src: enhancedUrl, muted: true, playsinline: true, preload: "auto", loop: true, "aria-label": "Enhanced" });
  const before = h("video", { class: "compare-before", src: sourceUrl, muted: true, playsinline: true, preload: "auto", loop: true, "aria-hidden": "true" });
  const slider = h("input", { id: "compare-slider", type: "range", min: "0", max: "100", value: "50", "aria-valuetext": "50 % original" });
  const play = h("button", { type: "button", id: "compare-play" }, "Play both");
  const divider = h("span", { class: "compare-divider", "aria-hidden": "true" });
  const frame = h("div", { class: "compare-frame" }, after, before, divider,
    h("span", { class: "compare-label left", "aria-hidden": "true" }, "Before"),
    h("span", { class: "compare-label right", "aria-hidden": "true" }, "After"));
  const reveal = () => {
    const percent = Number(slider.value);
    before.style.clipPath = `inset(0 ${100 - percent}% 0 0)`;
    divider.style.left = `${percent}%`;
    slider.setAttribute("aria-valuetext", `${percent} % original`);
  };
  slider.addEventListener("input", reveal);
  play.addEventListener("click", () => {
    if (after.paused) {
      before.currentTime = after.currentTime;
      Promise.all([after.play(), before.play()]).catch(() => {});
      play.textContent = "Pause both";
    } else {
      after.pause();
      before.pause();
      play.textContent = "Play both";
    }
  });
  after.addEventListener("timeupdate", () => {
    if (Math.abs(before.currentTime - after.currentTime) > DRIFT_SECONDS) before.currentTime = after.currentTime;
  });
  reveal();
  return h("div", { class: "compare", id: "compare" }, frame,
    h("div", { class: "compare-controls" },
      h("label", { for: "compare-slider" }, "Original ◀ ▶ Enhanced"), slider, play));
}
