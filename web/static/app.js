// Progressive enhancement: ask without a page reload. Without JavaScript the form posts normally.
(function () {
  "use strict";
  const form = document.getElementById("frageformular");
  const turns = document.getElementById("verlauf");
  const status = document.getElementById("status");
  if (!form || !turns || !window.fetch) return;

  async function ask(question) {
    const data = new FormData(form);
    data.set("question", question);
    data.set("fragment", "1");
    status.textContent = "Suche läuft …";
    form.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(form.action, { method: "POST", body: data });
      const html = await response.text();
      if (!response.ok) {
        status.innerHTML = html;
        return;
      }
      // The fragment is rendered (and escaped) by the server from the same template as full pages.
      turns.insertAdjacentHTML("beforeend", html);
      const hidden = document.createElement("input");
      hidden.type = "hidden";
      hidden.name = "history";
      hidden.value = question;
      form.prepend(hidden);
      form.elements.question.value = "";
      status.textContent = "";
      const examples = document.getElementById("beispiele");
      if (examples) examples.remove();
      turns.lastElementChild.scrollIntoView({ behavior: "smooth", block: "start" });
    } catch (error) {
      status.textContent = "Die Anfrage ist fehlgeschlagen. Bitte erneut versuchen.";
    } finally {
      form.removeAttribute("aria-busy");
    }
  }

  form.addEventListener("submit", function (event) {
    const question = form.elements.question.value.trim();
    if (!question) return;
    event.preventDefault();
    ask(question);
  });

  document.querySelectorAll("#beispiele button[name=question]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      event.preventDefault();
      ask(button.value);
    });
  });
})();
