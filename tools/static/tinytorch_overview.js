/* The chapter's slide viewer (tools/sphinx_tinytorch.py draws its markup; pdf.js, vendored by
 * tools/build_book.py, draws the pages). The PDF arrives through a classic script that holds it as
 * base64 (NN_name.pdf.js), because a page opened from disk may neither fetch a file nor start a
 * Worker; pdf.js's worker script is loaded on the page, so pdf.js runs it on the main thread.
 * Each deck element gets `ttDeck` ({page, pages, show(n)}) and data-rendered="<page>" once a page
 * is drawn, which the browser test reads. */
(function () {
  "use strict";
  const ZOOMS = [0.5, 0.75, 1, 1.25, 1.5, 2, 3];

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      const script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = function () { reject(new Error("could not load " + src)); };
      document.head.appendChild(script);
    });
  }

  function bytes(base64) {
    const text = atob(base64);
    const out = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
    return out;
  }

  function setUp(deck) {
    const stem = deck.dataset.stem;
    const canvas = deck.querySelector("canvas");
    const sheet = deck.querySelector(".tt-sheet");
    const textLayer = deck.querySelector(".textLayer");
    const stage = deck.querySelector(".tt-stage");
    const state = { page: 1, pages: Number(deck.dataset.pages) || 1, zoom: 2, pdf: null, task: null, busy: null };

    function controls() {
      deck.querySelector(".tt-page").textContent = String(state.page);
      deck.querySelector(".tt-pages").textContent = String(state.pages);
      deck.querySelector(".tt-zoom").textContent = Math.round(ZOOMS[state.zoom] * 100) + "%";
      deck.querySelector(".tt-progress-fill").style.width = (100 * state.page / state.pages) + "%";
      deck.querySelector(".tt-prev").disabled = state.page <= 1;
      deck.querySelector(".tt-next").disabled = state.page >= state.pages;
      deck.querySelector(".tt-zoom-out").disabled = state.zoom <= 0;
      deck.querySelector(".tt-zoom-in").disabled = state.zoom >= ZOOMS.length - 1;
    }

    async function draw() {
      if (!state.pdf) return;
      const number = state.page;
      const page = await state.pdf.getPage(number);
      const natural = page.getViewport({ scale: 1 });
      const fit = Math.max(0.2, (stage.clientWidth - 2) / natural.width);
      const viewport = page.getViewport({ scale: fit * ZOOMS[state.zoom] });
      const ratio = window.devicePixelRatio || 1;
      if (state.task) { state.task.cancel(); }
      canvas.width = Math.floor(viewport.width * ratio);
      canvas.height = Math.floor(viewport.height * ratio);
      canvas.style.width = Math.floor(viewport.width) + "px";
      canvas.style.height = Math.floor(viewport.height) + "px";
      sheet.style.width = canvas.style.width;
      sheet.style.height = canvas.style.height;
      const context = canvas.getContext("2d");
      state.task = page.render({ canvasContext: context, viewport: viewport,
                                 transform: ratio !== 1 ? [ratio, 0, 0, ratio, 0, 0] : null });
      try {
        await state.task.promise;
      } catch (error) {
        if (error && error.name === "RenderingCancelledException") return;
        throw error;
      }
      textLayer.replaceChildren();
      sheet.style.setProperty("--scale-factor", viewport.scale);
      await pdfjsLib.renderTextLayer({ textContentSource: page.streamTextContent(), container: textLayer,
                                       viewport: viewport, textDivs: [] }).promise;
      if (number === state.page) deck.dataset.rendered = String(number);
    }

    function show(number) {
      state.page = Math.min(state.pages, Math.max(1, number));
      delete deck.dataset.rendered;
      controls();
      state.busy = draw().catch(function (error) { console.error("tinytorch slides:", error); });
      return state.busy;
    }

    function zoom(step) {
      state.zoom = Math.min(ZOOMS.length - 1, Math.max(0, state.zoom + step));
      return show(state.page);
    }

    deck.querySelector(".tt-prev").addEventListener("click", function () { show(state.page - 1); });
    deck.querySelector(".tt-next").addEventListener("click", function () { show(state.page + 1); });
    deck.querySelector(".tt-zoom-in").addEventListener("click", function () { zoom(1); });
    deck.querySelector(".tt-zoom-out").addEventListener("click", function () { zoom(-1); });
    deck.querySelector(".tt-fullscreen").addEventListener("click", function () {
      if (document.fullscreenElement === deck) document.exitFullscreen();
      else if (deck.requestFullscreen) deck.requestFullscreen();
    });
    deck.addEventListener("fullscreenchange", function () { show(state.page); });
    deck.addEventListener("keydown", function (event) {
      if (event.key === "ArrowRight" || event.key === "PageDown" || event.key === " ") show(state.page + 1);
      else if (event.key === "ArrowLeft" || event.key === "PageUp") show(state.page - 1);
      else if (event.key === "Home") show(1);
      else if (event.key === "End") show(state.pages);
      else return;
      event.preventDefault();
    });
    let width = stage.clientWidth;
    window.addEventListener("resize", function () {
      if (stage.clientWidth !== width) { width = stage.clientWidth; show(state.page); }
    });

    deck.ttDeck = { get page() { return state.page; }, get pages() { return state.pages; }, show: show };
    controls();
    loadScript(deck.dataset.script).then(function () {
      const data = (window.TinyTorchDecks || {})[stem];
      if (!data) throw new Error("no slides in " + deck.dataset.script);
      return pdfjsLib.getDocument({ data: bytes(data), isEvalSupported: false }).promise;
    }).then(function (pdf) {
      state.pdf = pdf;
      state.pages = pdf.numPages;
      return show(1);
    }).catch(function (error) {
      deck.classList.add("tt-failed");
      console.error("tinytorch slides:", error);
    });
  }

  function start() {
    if (typeof pdfjsLib === "undefined") {
      console.error("tinytorch slides: pdf.js is not loaded");
      return;
    }
    document.querySelectorAll(".tt-deck[data-stem]").forEach(setUp);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
