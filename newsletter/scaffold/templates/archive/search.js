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

  // The index is one Pagefind bundle per year (pagefind/bundles.json lists them, newest
  // first, with their languages). The newest is Pagefind's primary bundle, searched in the
  // page's language (or, without one, its largest, as Pagefind itself chooses); every other
  // bundle and language is merged in, so that one search finds every year and edition.
  function pick(languages) {
    var names = Object.keys(languages);
    if (names.indexOf(page) >= 0) { return page; }
    if (names.indexOf(page.split("-")[0]) >= 0) { return page.split("-")[0]; }
    return names.sort(function (a, b) { return languages[b] - languages[a]; })[0];
  }

  function start(bundles) {
    if (!bundles.length) { say(box.dataset.unavailable); return; }
    var primary = bundle + bundles[0].path;
    var primaryLanguage = pick(bundles[0].languages);
    var merge = [];
    bundles.forEach(function (b, i) {
      Object.keys(b.languages).forEach(function (language) {
        if (i === 0 && language === primaryLanguage) { return; }
        // "./": Pagefind skips a merge whose path is its primary bundle's own.
        var path = bundle + b.path + (i === 0 ? "./" : "");
        merge.push({ bundlePath: path, language: language, baseUrl: root });
      });
    });
    var field = document.createElement("div");
    box.appendChild(field);
    new window.PagefindUI({
      element: field, bundlePath: primary, baseUrl: root, showSubResults: true,
      showImages: false, resetStyles: false, showEmptyFilters: false, mergeIndex: merge,
      translations: { placeholder: box.dataset.placeholder }
    });
    // Pagefind names its field by title only; a label proper for screen readers.
    var input = field.querySelector("input");
    if (input) { input.setAttribute("aria-label", box.dataset.placeholder); }
  }

  fetch(bundle + "bundles.json").then(function (response) {
    if (!response.ok) { throw new Error(String(response.status)); }
    return response.json();
  }).then(function (listing) {
    var bundles = listing.bundles || [];
    if (!bundles.length) { throw new Error("no index"); }
    var style = document.createElement("link");
    style.rel = "stylesheet";
    style.href = bundle + bundles[0].path + "pagefind-ui.css";
    document.head.appendChild(style);
    var script = document.createElement("script");
    script.src = bundle + bundles[0].path + "pagefind-ui.js";
    script.onload = function () { start(bundles); };
    script.onerror = function () { say(box.dataset.unavailable); };
    document.head.appendChild(script);
  }).catch(function () { say(box.dataset.unavailable); });
}());
