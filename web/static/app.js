// Progressive enhancement of the chat. Every action below also works without JavaScript through
// plain forms and links; the script saves page loads, streams the language model's answer as it is
// written (where one is configured) and adds copying to the clipboard.
(function () {
  "use strict";
  const form = document.getElementById("frageformular");
  const turns = document.getElementById("verlauf");
  const status = document.getElementById("status");

  function announce(region, text) {
    // Cleared first so that the same words are announced again.
    region.textContent = "";
    window.setTimeout(function () { region.textContent = text; }, 50);
  }

  // --- Asking without a page reload -------------------------------------------------------
  if (form && turns && status && window.fetch) {
    const button = form.querySelector("button[type=submit]");

    function busy(on) {
      form.setAttribute("aria-busy", on ? "true" : "false");
      turns.setAttribute("aria-busy", on ? "true" : "false");
      button.disabled = on;
      status.classList.toggle("loading", on);
    }

    // One server-sent event block ("event: x\ndata: {...}") as {name, data}.
    function parseEvent(block) {
      let name = "message";
      const data = [];
      block.split("\n").forEach(function (line) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trim());
      });
      try {
        return { name: name, data: JSON.parse(data.join("\n") || "null") };
      } catch (error) {
        return { name: "invalid", data: null };
      }
    }

    // The language model's answer, streamed into the turn's placeholder: the unchecked draft grows as
    // the words arrive, then the server's checked section (or its notice) takes the placeholder's place.
    // Stopping, a stream that breaks off or a failed request leave the Kurzantwort with a notice.
    async function streamGenerated(section, earlier) {
      const draft = section.querySelector(".draft");
      const stop = section.querySelector("button.stop");
      const controller = new AbortController();
      let stopped = false;
      stop.addEventListener("click", function () {
        stopped = true;
        controller.abort();
      });

      function settle(replacement, message) {
        const hadFocus = section.contains(document.activeElement);
        if (replacement) section.replaceWith(replacement); else section.remove();
        if (hadFocus && replacement) {
          const target = replacement.matches("[tabindex]") ? replacement : replacement.querySelector("[tabindex]");
          if (target) target.focus();
        }
        if (message) announce(status, message);
      }

      function fallback(text) {
        const note = document.createElement("p");
        note.className = "notice";
        note.setAttribute("role", "note");
        note.setAttribute("tabindex", "-1");
        note.id = section.id;
        note.textContent = text;
        settle(note, text);
      }

      try {
        let body = null;
        if (section.dataset.question) {
          // Nothing is stored on the server: the question itself is sent again, with the earlier ones.
          body = new FormData();
          body.set("question", section.dataset.question);
          body.set("number", section.dataset.number);
          earlier.forEach(function (question) { body.append("earlier", question); });
        }
        const response = await fetch(section.dataset.stream, { method: "POST", body: body, signal: controller.signal });
        if (!response.ok || !response.body) {
          fallback(section.dataset.failed);
          return;
        }
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        for (;;) {
          const chunk = await reader.read();
          if (chunk.done) break;
          buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n/g, "\n");
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const event = parseEvent(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
            if (event.name === "text" && event.data && typeof event.data.text === "string") {
              draft.textContent += event.data.text;
            } else if (event.name === "done" && event.data) {
              const holder = document.createElement("div");
              holder.innerHTML = event.data.html;  // rendered and escaped by the server
              settle(holder.firstElementChild, event.data.status);
              return;
            }
          }
        }
        fallback(section.dataset.failed);  // the stream ended without its last event
      } catch (error) {
        fallback(stopped ? section.dataset.stopped : section.dataset.failed);
      }
    }

    async function ask(question) {
      const data = new FormData(form);  // with the earlier questions where the page carries them
      data.set("question", question);
      if (form.dataset.keepsNothing !== undefined) data.set("turn", String(turns.children.length + 1));
      data.set("fragment", "1");
      data.set("stream", "1");
      busy(true);
      status.textContent = "Antwort wird gesucht …";
      try {
        const response = await fetch(form.action, { method: "POST", body: data });
        const html = await response.text();
        if (!response.ok) {
          // An error fragment, rendered and escaped by the server.
          status.innerHTML = html;
          return;
        }
        turns.insertAdjacentHTML("beforeend", html);
        turns.setAttribute("aria-busy", "false");
        const address = response.headers.get("X-Gespraech");
        if (address) {
          // The conversation now has its own address: reloads and bookmarks show it again.
          form.action = address;
          if (window.location.pathname !== address) window.history.replaceState(null, "", address);
          const actions = document.getElementById("gespraech-aktionen");
          if (actions) {
            actions.querySelector("a").setAttribute("href", response.headers.get("X-Gespraech-Loeschen"));
            actions.hidden = false;
          }
        }
        form.elements.question.value = "";
        const examples = document.getElementById("beispiele");
        if (examples) examples.remove();
        const turn = turns.lastElementChild;
        const found = turn.querySelectorAll(".passage").length;
        const pending = turn.querySelector(".generated-answer.streaming[data-stream]");
        announce(status, (found
          ? "Antwort erhalten: " + found + (found === 1 ? " Fundstelle." : " Fundstellen.")
          : "Antwort erhalten: keine passende Stelle.")
          + (pending ? " Das Sprachmodell schreibt eine Antwort …" : ""));
        turn.scrollIntoView({ behavior: "smooth", block: "start" });
        const earlier = data.getAll("earlier");
        if (form.dataset.keepsNothing !== undefined && !address) {
          // Nothing is stored: the page carries the conversation's questions for the next one.
          const field = document.createElement("input");
          field.type = "hidden";
          field.name = "earlier";
          field.value = question;
          form.appendChild(field);
          const fields = form.querySelectorAll("input[name=earlier]");
          const keep = Number(form.dataset.keepsNothing) || 0;
          for (let i = 0; i < fields.length - keep; i++) fields[i].remove();
        }
        if (pending) await streamGenerated(pending, earlier);
      } catch (error) {
        status.textContent = "Die Anfrage ist fehlgeschlagen. Bitte erneut versuchen.";
      } finally {
        busy(false);
      }
    }

    form.addEventListener("submit", function (event) {
      const question = form.elements.question.value.trim();
      if (!question) return;
      event.preventDefault();
      if (!button.disabled) ask(question);
    });

    document.querySelectorAll("#beispiele button[name=question]").forEach(function (example) {
      example.addEventListener("click", function (event) {
        event.preventDefault();
        if (!button.disabled) ask(example.value);
      });
    });
  }

  // --- Feedback without a page reload ---------------------------------------------------------
  document.addEventListener("submit", async function (event) {
    const feedback = event.target;
    if (!(feedback instanceof HTMLFormElement) || !feedback.classList.contains("feedback") || !window.fetch) return;
    const choice = event.submitter;
    if (!choice || !choice.value) return;
    event.preventDefault();
    const data = new FormData(feedback);
    data.set("helpful", choice.value);
    data.set("fragment", "1");
    feedback.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    try {
      const response = await fetch(feedback.action, { method: "POST", body: data });
      const html = await response.text();
      const area = feedback.parentElement;
      if (response.ok) {
        area.innerHTML = html;  // the server's thank-you, a role=status message
        const thanks = area.firstElementChild;
        if (thanks) { thanks.setAttribute("tabindex", "-1"); thanks.focus(); }
        return;
      }
      feedback.insertAdjacentHTML("beforeend", html);
    } catch (error) {
      feedback.insertAdjacentHTML("beforeend",
        '<p class="error" role="alert">Die Rückmeldung konnte nicht gesendet werden. Bitte erneut versuchen.</p>');
    }
    feedback.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
  });

  // --- "Zitat kopieren": straight to the clipboard; without it, the quotation opens to be selected ---
  document.addEventListener("click", function (event) {
    const summary = event.target instanceof Element ? event.target.closest("details.copy > summary") : null;
    if (!summary) return;
    const details = summary.parentElement;
    const text = details.querySelector("textarea");
    const message = details.parentElement.querySelector(".copied");
    if (details.open || !navigator.clipboard || !window.isSecureContext) {
      window.setTimeout(function () { if (details.open) text.select(); }, 0);
      return;
    }
    event.preventDefault();
    navigator.clipboard.writeText(text.value).then(
      function () { if (message) announce(message, "Zitat kopiert."); },
      function () { details.open = true; text.select(); }
    );
  });

  // --- A marker of the language model's answer highlights its evidence in the passage card ----------
  // The link itself leads to the quoted evidence below the answer (that is all there is without
  // JavaScript). Here the evidence's character range (data-start/-end in the passage's text) is also
  // marked in the card with the CSS Custom Highlight API, the card scrolled to and focused, and the
  // evidence announced, since a screen reader does not see a highlight.
  function evidenceRange(card, start, end) {
    const paragraphs = card.querySelectorAll(".passage-text > p");
    const range = document.createRange();
    let offset = 0;
    let begun = false;
    for (const paragraph of paragraphs) {
      const walker = document.createTreeWalker(paragraph, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const length = node.textContent.length;
        if (!begun && start < offset + length) { range.setStart(node, Math.max(0, start - offset)); begun = true; }
        if (begun && end <= offset + length) { range.setEnd(node, Math.max(0, end - offset)); return range; }
        offset += length;
      }
      offset += 2;  // the blank line between paragraphs ("\n\n" in the passage's text)
    }
    return null;
  }

  document.addEventListener("click", function (event) {
    const link = event.target instanceof Element ? event.target.closest("a.evidence-link[data-card]") : null;
    if (!link || !window.CSS || !CSS.highlights || typeof Highlight === "undefined") return;
    const card = document.getElementById(link.dataset.card);
    const range = card && evidenceRange(card, Number(link.dataset.start), Number(link.dataset.end));
    if (!range) return;
    event.preventDefault();
    CSS.highlights.set("beleg", new Highlight(range));
    const article = card.querySelector("article");
    article.setAttribute("tabindex", "-1");
    article.scrollIntoView({ block: "center" });
    article.focus({ preventScroll: true });
    if (status) announce(status, "Beleg in " + link.getAttribute("aria-label").replace("Beleg in ", "") + ": " + range.toString());
  });
  // --- Operator area: drop files on the upload form; follow a build's progress live ----------
  const dropzone = document.querySelector("[data-dropzone]");
  if (dropzone) {
    const upload = dropzone.closest("form");
    const input = dropzone.querySelector("input[type=file]");
    ["dragenter", "dragover"].forEach(function (name) {
      dropzone.addEventListener(name, function (event) {
        event.preventDefault();
        dropzone.classList.add("dragging");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      dropzone.addEventListener(name, function () { dropzone.classList.remove("dragging"); });
    });
    dropzone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (!event.dataTransfer || !event.dataTransfer.files.length) return;
      input.files = event.dataTransfer.files;
      upload.requestSubmit();
    });
  }

  const build = document.querySelector("[data-build][data-running=true]");
  if (build && window.EventSource) {
    const hint = build.querySelector("[data-noscript-hint]");
    if (hint) hint.textContent = "Der Fortschritt wird laufend angezeigt.";
    const bar = document.getElementById("balken");
    const events = new EventSource(build.dataset.events);
    const states = { running: "Läuft", done: "Fertig", failed: "Fehlgeschlagen" };
    events.addEventListener("progress", function (event) {
      const state = JSON.parse(event.data);
      build.querySelector("[data-state]").textContent = states[state.state] || state.state;
      build.querySelector("[data-phase]").textContent = state.phase_label;
      build.querySelector("[data-count]").textContent = state.total ? state.done + " von " + state.total : "";
      build.querySelector("[data-message]").textContent = state.message;
      bar.max = state.total || 1;
      bar.value = state.total ? state.done : (state.state === "running" ? 0 : 1);
    });
    events.addEventListener("end", function () {
      events.close();
      // The page as the server renders a finished build: its result and warnings.
      window.setTimeout(function () { window.location.reload(); }, 500);
    });
    events.onerror = function () { events.close(); window.setTimeout(function () { window.location.reload(); }, 3000); };
  }
})();
