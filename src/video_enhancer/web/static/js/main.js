// Hash routes: #/login, #/signup, #/upload, #/library, #/videos/<id>, #/account.
import { isSignedIn, logout, onSignedOut, resumeSession } from "./api.js";
import { h } from "./dom.js";
import { accountView } from "./views/account.js";
import { authView } from "./views/auth.js";
import { libraryView } from "./views/library.js";
import { uploadView } from "./views/upload.js";
import { videoView } from "./views/video.js";

const PUBLIC_ROUTES = new Set(["login", "signup"]);
let leaveHandlers = [];

function route() {
  const [name = "", id] = location.hash.replace(/^#\/?/, "").split("/");
  if (!isSignedIn() && !PUBLIC_ROUTES.has(name)) return { name: "login" };
  if (isSignedIn() && (PUBLIC_ROUTES.has(name) || name === "")) return { name: "upload" };
  return { name, id };
}

function viewFor({ name, id }) {
  const onLeave = (handler) => leaveHandlers.push(handler);
  switch (name) {
    case "login":
    case "signup":
      return authView(name);
    case "upload":
      return uploadView({ onLeave });
    case "library":
      return libraryView();
    case "videos":
      return videoView(id, { onLeave });
    case "account":
      return accountView();
    default:
      return h("section", { class: "card" }, h("h1", { tabindex: "-1" }, "Page not found"), h("a", { href: "#/upload" }, "Go to the start"));
  }
}

function render(moveFocus) {
  for (const handler of leaveHandlers) handler();
  leaveHandlers = [];
  const current = route();
  document.getElementById("nav").hidden = !isSignedIn();
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.getAttribute("href") === `#/${current.name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const main = document.getElementById("main");
  main.replaceChildren(viewFor(current));
  document.title = `${main.querySelector("h1")?.textContent ?? "Video Enhancer"} · Video Enhancer`;
  if (moveFocus) main.querySelector("h1")?.focus();
}

async function start() {
  await resumeSession();
  onSignedOut(() => { location.hash = "#/login"; render(true); });
  window.addEventListener("hashchange", () => render(true));
  document.getElementById("logout").addEventListener("click", async () => {
    await logout();
    location.hash = "#/login";
  });
  render(false);
}

start();
