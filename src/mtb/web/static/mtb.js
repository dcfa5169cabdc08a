/* MTB page behaviour: upload progress bars and the material viewer. No inline scripts anywhere (CSP). */
(function () {
  "use strict";

  function csrf() { return document.body.getAttribute("data-csrf") || ""; }

  // Uploads: send the form with XMLHttpRequest to show a per-file progress bar, then follow the answer.
  function bindUpload(form) {
    form.addEventListener("submit", function (event) {
      var input = form.querySelector("input[type=file]");
      if (!input || !input.files || !input.files.length || !window.FormData) { return; }
      event.preventDefault();
      var bar = form.querySelector("progress");
      var status = form.querySelector(".upload-status");
      var button = form.querySelector("button[type=submit]");
      if (bar) { bar.hidden = false; bar.value = 0; }
      if (button) { button.disabled = true; }
      if (status) { status.textContent = "正在上传…"; }
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("X-CSRF-Token", csrf());
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable && bar) { bar.value = Math.round((e.loaded / e.total) * 100); }
      });
      xhr.addEventListener("load", function () {
        var answer = {};
        try { answer = JSON.parse(xhr.responseText); } catch (ignored) { answer = {}; }
        if (xhr.status >= 200 && xhr.status < 300) {
          if (bar) { bar.value = 100; }
          window.location.assign(answer.redirect || window.location.href);
        } else {
          if (status) { status.textContent = answer.detail || "上传失败，请重试"; status.className = "upload-status field-error"; }
          if (button) { button.disabled = false; }
        }
      });
      xhr.addEventListener("error", function () {
        if (status) { status.textContent = "网络异常，请检查网络后重试"; status.className = "upload-status field-error"; }
        if (button) { button.disabled = false; }
      });
      xhr.send(new FormData(form));
    });
  }

  // Viewer: zoom in, zoom out, rotate an image of a material.
  function bindViewer(viewer) {
    var img = viewer.querySelector("img");
    var state = { scale: 1, turn: 0 };
    function apply() { if (img) { img.style.transform = "scale(" + state.scale + ") rotate(" + state.turn + "deg)"; } }
    viewer.parentNode.querySelectorAll("[data-view]").forEach(function (button) {
      button.addEventListener("click", function () {
        var action = button.getAttribute("data-view");
        if (action === "in") { state.scale = Math.min(4, state.scale + 0.25); }
        if (action === "out") { state.scale = Math.max(0.25, state.scale - 0.25); }
        if (action === "rotate") { state.turn = (state.turn + 90) % 360; }
        if (action === "reset") { state.scale = 1; state.turn = 0; }
        apply();
      });
    });
  }

  // Confirmations for destructive actions (withdraw, delete).
  function bindConfirm(form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.upload-form").forEach(bindUpload);
    document.querySelectorAll(".viewer").forEach(bindViewer);
    document.querySelectorAll("form[data-confirm]").forEach(bindConfirm);
  });
})();
