// Sign up and log in.
import { login, register } from "../api.js";
import { errorBox, h } from "../dom.js";
import { explainError } from "../messages.js";

export function authView(mode) {
  const signingUp = mode === "signup";
  const feedback = h("div", { class: "feedback" });
  const email = h("input", { id: "email", name: "email", type: "email", autocomplete: "email", required: true });
  const password = h("input", {
    id: "password", name: "password", type: "password", required: true, minlength: signingUp ? "8" : undefined,
    autocomplete: signingUp ? "new-password" : "current-password", "aria-describedby": signingUp ? "password-hint" : undefined,
  });
  const submit = h("button", { type: "submit", class: "primary" }, signingUp ? "Create account" : "Log in");
  const onsubmit = async (event) => {
    event.preventDefault();
    submit.disabled = true;
    feedback.replaceChildren();
    try {
      if (signingUp) await register(email.value.trim(), password.value);
      else await login(email.value.trim(), password.value);
      location.hash = "#/upload";
    } catch (error) {
      const { message, hint } = explainError(error);
      feedback.replaceChildren(errorBox(message, hint));
      submit.disabled = false;
    }
  };
  return h("section", { class: "card narrow" },
    h("h1", { tabindex: "-1" }, signingUp ? "Create your account" : "Log in"),
    h("p", { class: "lead" }, "Upload a phone video and get back a sharper, four times larger version."),
    h("form", { onsubmit, novalidate: false },
      h("label", { for: "email" }, "Email"), email,
      h("label", { for: "password" }, "Password"), password,
      signingUp ? h("p", { id: "password-hint", class: "hint" }, "At least 8 characters.") : null,
      feedback, submit),
    h("p", {}, signingUp ? "Already have an account? " : "New here? ",
      h("a", { href: signingUp ? "#/login" : "#/signup" }, signingUp ? "Log in" : "Create an account")));
}
