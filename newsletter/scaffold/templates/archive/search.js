// The archive's search box: Pagefind's UI over every language of the archive.
// Loaded by every archive page (<div class="nl-search" data-root="../">); no inline script,
// so the pages' Content-Security-Policy can stay at script-src 'self'.
(function () {
  "use strict";
  var box = document.querySelector(".nl-search");
  if (!box) { return; }
  var note = box.querySelector(".nl-search-note");
  function say(text) {
    note.textContent = text;
    note.hidden = false;
  }
  // Browsers refuse to fetch the index from file: URLs; say so instead of failing quietly.
  if (location.protocol === "file:") { say(box.dataset.needsServer); return; }
  var root = new URL(box.dataset.root || "./", location.href).pathname;
  var bundle = root + "pagefind/";
  var page = (document.documentElement.lang || "unknown").toLowerCase();

  function start(entry) {
    var languages = Object.keys(entry.languages || {});
    if (!languages.length) { say(box.dataset.unavailable); return; }
    // Pagefind searches the index of the page's language (or, without one, its largest);
    // every other language of the same bundle is merged in, so one search finds every
    // edition. "./" keeps Pagefind from skipping the bundle as its own primary one.
    var primary = languages.indexOf(page) >= 0 ? page
      : languages.indexOf(page.split("-")[0]) >= 0 ? page.split("-")[0]
      : languages.slice().sort(function (a, b) {
        return entry.languages[b].page_count - entry.languages[a].page_count;
      })[0];
    var merge = languages.filter(function (l) { return l !== primary; }).map(function (l) {
      return { bundlePath: bundle + "./", language: l, baseUrl: root };
    });
    var field = document.createElement("div");
    box.appendChild(field);
    new window.PagefindUI({
      element: field, bundlePath: bundle, baseUrl: root, showSubResults: true,
      showImages: false, resetStyles: false, mergeIndex: merge,
      translations: { placeholder: box.dataset.placeholder }
    });
  }

  fetch(bundle + "pagefind-entry.json").then(function (response) {
    if (!response.ok) { throw new Error(String(response.status)); }
    return response.json();
  }).then(function (entry) {
    var style = document.createElement("link");
    style.rel = "stylesheet";
    style.href = bundle + "pagefind-ui.css";
    document.head.appendChild(style);
    var script = document.createElement("script");
    script.src = bundle + "pagefind-ui.js";
    script.onload = function () { start(entry); };
    script.onerror = function () { say(box.dataset.unavailable); };
    document.head.appendChild(script);
  }).catch(function () { say(box.dataset.unavailable); });
}());
