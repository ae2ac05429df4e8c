// Minutes used per day over the last 90 days: an SVG bar chart with a text summary for screen readers.
import { h, svg } from "../dom.js";

const WIDTH = 720;
const HEIGHT = 140;
const AXIS = 1;

export function usageChart(usage) {
  const max = Math.max(1, ...usage.buckets.map((bucket) => bucket.minutes));
  const barWidth = WIDTH / usage.buckets.length;
  const bars = usage.buckets.map((bucket, index) => {
    const height = (bucket.minutes / max) * (HEIGHT - AXIS);
    return svg("rect", {
      class: bucket.minutes ? "bar used" : "bar", x: (index * barWidth + 1).toFixed(1), y: (HEIGHT - AXIS - height).toFixed(1),
      width: Math.max(1, barWidth - 2).toFixed(1), height: Math.max(bucket.minutes ? 2 : 0, height).toFixed(1), "data-day": bucket.day, "data-minutes": bucket.minutes,
    }, svg("title", {}, `${bucket.day}: ${bucket.minutes} minute${bucket.minutes === 1 ? "" : "s"}`));
  });
  const first = usage.buckets[0]?.day ?? "";
  const last = usage.buckets.at(-1)?.day ?? "";
  const chart = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: "chart", role: "img", "aria-labelledby": "usage-summary", preserveAspectRatio: "none" },
    svg("line", { x1: 0, y1: HEIGHT - AXIS, x2: WIDTH, y2: HEIGHT - AXIS, class: "axis" }),
    ...bars);
  const busiest = usage.buckets.reduce((best, bucket) => (bucket.minutes > (best?.minutes ?? 0) ? bucket : best), null);
  const summary = `${usage.totalMinutes} minute${usage.totalMinutes === 1 ? "" : "s"} used over the last ${usage.days} days` +
    (busiest ? `; most on ${busiest.day} (${busiest.minutes}).` : ".");
  return h("div", { class: "panel" }, h("h2", {}, "Minutes used per day"),
    h("p", { id: "usage-summary", "data-total": String(usage.totalMinutes) }, summary),
    // Labels in HTML, not in the stretched SVG, so they keep their shape at every width.
    h("div", { class: "chart-box", "aria-hidden": "true" },
      h("span", { class: "chart-max" }, `${max} min`), chart,
      h("div", { class: "chart-ticks" }, h("span", {}, first), h("span", {}, last))));
}
