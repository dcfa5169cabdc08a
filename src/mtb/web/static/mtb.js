/* MTB page behaviour, on top of pages that work without it: uploads as soon as a file is chosen (checked and,
   for big photos, shrunk on the phone first), a login that lapses during an upload renewed in place without
   losing the file, typed fields kept in the tab across a lapsed login, the material viewer, confirmations,
   the hospital search. No inline scripts anywhere (CSP). */
(function () {
  "use strict";

  var ACCEPTED = ["application/pdf", "image/jpeg", "image/png"];
  var ACCEPTED_NAME = /\.(pdf|jpe?g|png)$/i;
  var SHRINK_ABOVE = 2 * 1024 * 1024;  // bytes: a photo above this is redrawn smaller before it is sent
  var LONG_SIDE = 2560;                // px: keeps a document photo sharp (the server wants >= 600 px)

  function csrf() { return document.body.getAttribute("data-csrf") || ""; }
  function maxBytes() {
    var holder = document.querySelector("[data-max-bytes]");
    return holder ? parseInt(holder.getAttribute("data-max-bytes"), 10) : 10 * 1024 * 1024;
  }
  function mb(bytes) { return Math.round(bytes / 1048576); }

  // --- choosing a file: check, shrink, send ---------------------------------------------------------------

  function problemOf(file) {
    var typeOk = ACCEPTED.indexOf(file.type) >= 0 || (!file.type && ACCEPTED_NAME.test(file.name));
    if (!typeOk) { return "只能上传 PDF、JPG 或 PNG 文件（照片请用相机拍摄后上传）"; }
    return null;
  }

  // The content decides, as on the server (materials/inspect.py): a text file renamed .jpg is not a photo.
  function sniff(file) {
    if (!file.slice || !window.FileReader) { return Promise.resolve(true); }
    return new Promise(function (resolve) {
      var reader = new FileReader();
      reader.onload = function () {
        var b = new Uint8Array(reader.result);
        var pdf = b[0] === 0x25 && b[1] === 0x50 && b[2] === 0x44 && b[3] === 0x46;
        var jpeg = b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
        var png = b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47;
        resolve(pdf || jpeg || png);
      };
      reader.onerror = function () { resolve(true); };  // the server judges it anyway
      reader.readAsArrayBuffer(file.slice(0, 8));
    });
  }
  var NOT_A_DOCUMENT = "这个文件的内容不是图片或 PDF（与文件名无关），请重新拍照，或选择 PDF、JPG、PNG 文件";

  function shrink(file) {
    // A camera photo of 5-12 MB goes up as a JPEG of about 1-2 MB with its long side at 2560 px.
    if (file.type.indexOf("image/") !== 0 || file.size <= SHRINK_ABOVE || !window.createImageBitmap) {
      return Promise.resolve(file);
    }
    return createImageBitmap(file, { imageOrientation: "from-image" }).then(function (bitmap) {
      var scale = Math.min(1, LONG_SIDE / Math.max(bitmap.width, bitmap.height));
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      var context = canvas.getContext("2d");
      context.fillStyle = "#fff";
      context.fillRect(0, 0, canvas.width, canvas.height);
      context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) {
          if (!blob || blob.size >= file.size) { resolve(file); return; }
          var name = file.name.replace(/\.[^.]*$/, "") + ".jpg";
          resolve(new File([blob], name, { type: "image/jpeg" }));
        }, "image/jpeg", 0.85);
      });
    }).catch(function () { return file; });
  }

  function say(form, text, bad) {
    var status = form.querySelector(".upload-status");
    if (status) { status.textContent = text; status.className = "upload-status " + (bad ? "field-error" : "muted"); }
  }

  function send(form, file) {
    var bar = form.querySelector("progress");
    var data = new FormData(form);
    data.set("file", file, file.name);
    if (bar) { bar.hidden = false; bar.value = 0; }
    form.classList.add("busy");
    say(form, "正在上传…", false);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-CSRF-Token", csrf());
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable && bar) { bar.value = Math.round((e.loaded / e.total) * 100); }
    });
    xhr.addEventListener("load", function () {
      form.classList.remove("busy");
      if (xhr.status >= 200 && xhr.status < 300) {
        var item = form.closest(".material-item");
        if (item && (xhr.getResponseHeader("Content-Type") || "").indexOf("text/html") === 0) {
          var holder = document.createElement("div");
          holder.innerHTML = xhr.responseText;  // our own fragment, escaped by the template engine
          var fresh = holder.firstElementChild;
          item.replaceWith(fresh);
          bindAll(fresh);
        } else {
          window.location.reload();
        }
        return;
      }
      if (bar) { bar.hidden = true; }
      var answer = {};
      try { answer = JSON.parse(xhr.responseText); } catch (ignored) { answer = {}; }
      if (xhr.status === 401) { relogin(form, file, answer); return; }
      say(form, answer.detail || "上传失败，请重试", true);
    });
    xhr.addEventListener("error", function () {
      form.classList.remove("busy");
      if (bar) { bar.hidden = true; }
      say(form, "网络异常，文件没有上传成功，请检查网络后重新选择", true);
    });
    xhr.send(data);
  }

  function choose(form, input) {
    var file = input.files && input.files[0];
    if (!file) { return; }
    var problem = problemOf(file);
    if (problem) { say(form, problem, true); input.value = ""; return; }
    sniff(file).then(function (looksRight) {
      if (!looksRight) { say(form, NOT_A_DOCUMENT, true); input.value = ""; return null; }
      say(form, file.type.indexOf("image/") === 0 && file.size > SHRINK_ABOVE ? "正在压缩照片…" : "正在上传…", false);
      return shrink(file);
    }).then(function (ready) {
      if (!ready) { return; }
      if (ready.size > maxBytes()) {
        say(form, "文件超过 " + mb(maxBytes()) + " MB，请重新拍摄或压缩后上传", true);
        input.value = "";
        return;
      }
      send(form, ready);
    });
  }

  function bindUpload(form) {
    var input = form.querySelector("input[type=file]");
    if (!input || !window.FormData) { return; }
    input.addEventListener("change", function () { choose(form, input); });
    form.addEventListener("submit", function (event) { event.preventDefault(); choose(form, input); });
  }

  // --- a login that lapsed during an upload: log in here, then send the same file ---------------------------

  function field(panel, id, label, type) {
    var wrap = document.createElement("div");
    var l = document.createElement("label");
    l.setAttribute("for", id); l.textContent = label;
    var input = document.createElement("input");
    input.id = id; input.name = id.replace(/^relogin-/, ""); input.type = type; input.autocomplete = "off";
    wrap.appendChild(l); wrap.appendChild(input); panel.appendChild(wrap);
    return input;
  }

  function relogin(form, file, answer) {
    var item = form.closest(".material-item") || form;
    var old = document.getElementById("relogin");
    if (old) { old.remove(); }
    var panel = document.createElement("form");
    panel.id = "relogin"; panel.className = "card relogin"; panel.setAttribute("novalidate", "");
    var head = document.createElement("p");
    head.className = "notice"; head.setAttribute("role", "alert");
    head.textContent = (answer.detail || "登录已超时，请重新登录") + "。您选择的文件“" + file.name + "”已保留，登录后自动继续上传。";
    panel.appendChild(head);
    var name = field(panel, "relogin-name", "姓名", "text");
    field(panel, "relogin-id_number", "身份证号", "text");
    field(panel, "relogin-card_number", "医保卡号", "text");
    var error = document.createElement("p"); error.className = "field-error"; error.setAttribute("aria-live", "polite");
    panel.appendChild(error);
    var button = document.createElement("button");
    button.type = "submit"; button.className = "block"; button.textContent = "登录并继续上传";
    panel.appendChild(button);
    item.appendChild(panel);
    name.focus();
    say(form, "登录已超时，文件尚未上传", true);
    panel.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = new URLSearchParams(new FormData(panel));
      body.set("csrf_token", csrf());
      body.set("next", window.location.pathname);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", "/login");
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      xhr.setRequestHeader("Content-Type", "application/x-www-form-urlencoded");
      xhr.addEventListener("load", function () {
        if (xhr.status >= 200 && xhr.status < 300) { panel.remove(); send(form, file); return; }
        var reply = {};
        try { reply = JSON.parse(xhr.responseText); } catch (ignored) { reply = {}; }
        error.textContent = reply.detail || "登录未成功，请重试";
      });
      xhr.addEventListener("error", function () { error.textContent = "网络异常，请检查网络后重试"; });
      xhr.send(body.toString());
    });
  }

  // --- typed fields kept in this tab (a lapsed login sends the person away and back) -------------------------

  function bindKeep(form) {
    var key = "mtb-keep:" + form.getAttribute("data-keep");
    var saved = {};
    try { saved = JSON.parse(window.sessionStorage.getItem(key) || "{}"); } catch (ignored) { saved = {}; }
    // Only typed text comes back from here; the choices come back in the address (see applicant.py CARRIED).
    Array.prototype.forEach.call(form.querySelectorAll("input[type=text]"), function (el) {
      if (el.name in saved && !el.value) { el.value = saved[el.name]; }
    });
    form.addEventListener("input", function () {
      var values = {};
      Array.prototype.forEach.call(form.querySelectorAll("input[type=text]"), function (el) {
        if (el.name) { values[el.name] = el.value; }
      });
      try { window.sessionStorage.setItem(key, JSON.stringify(values)); } catch (ignored) { /* private mode */ }
    });
  }

  function forgetKept() {
    // The application exists: what was typed on the way there is no longer needed in this tab.
    try {
      Object.keys(window.sessionStorage).forEach(function (k) {
        if (k.indexOf("mtb-keep:apply-") === 0) { window.sessionStorage.removeItem(k); }
      });
    } catch (ignored) { /* private mode */ }
  }

  // --- a long list: type to narrow it --------------------------------------------------------------------------

  function bindSearch(input) {
    var select = document.getElementById(input.getAttribute("data-filters"));
    if (!select) { return; }
    input.hidden = false;
    input.addEventListener("input", function () {
      var words = input.value.trim();
      Array.prototype.forEach.call(select.options, function (option) {
        option.hidden = !!option.value && words !== "" && option.textContent.indexOf(words) < 0;
      });
    });
  }

  // --- the material viewer, confirmations ---------------------------------------------------------------------

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

  function bindConfirm(form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  }

  function bindAll(root) {
    root.querySelectorAll("form.upload-form").forEach(bindUpload);
    root.querySelectorAll("form[data-confirm]").forEach(bindConfirm);
  }

  document.documentElement.classList.add("js");
  document.addEventListener("DOMContentLoaded", function () {
    bindAll(document);
    document.querySelectorAll(".viewer").forEach(bindViewer);
    document.querySelectorAll("form[data-keep]").forEach(bindKeep);
    document.querySelectorAll("input[data-filters]").forEach(bindSearch);
    if (document.getElementById("materials")) { forgetKept(); }
  });
})();
