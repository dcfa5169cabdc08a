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

  // The window clerk's batch: every chosen file goes up in its own request (one file per request, as the
  // body limit allows, with a progress bar), then the form is sent without files to submit (or the page
  // is reloaded). Without this script the form sends everything in one request.
  function bindBatch(form) {
    form.addEventListener("submit", function (event) {
      if (!window.FormData) { return; }
      var jobs = [];
      form.querySelectorAll("input[type=file]").forEach(function (input) {
        Array.prototype.forEach.call(input.files || [], function (file) { jobs.push({ input: input, file: file }); });
      });
      var then = event.submitter ? event.submitter.value : "";
      if (!jobs.length && then !== "submit") { return; }
      event.preventDefault();
      var bar = form.querySelector("progress");
      var status = form.querySelector(".upload-status");
      var buttons = form.querySelectorAll("button[type=submit]");
      buttons.forEach(function (b) { b.disabled = true; });
      if (bar) { bar.hidden = false; bar.value = 0; }
      function fail(text) {
        if (status) { status.textContent = text; status.className = "upload-status field-error"; }
        buttons.forEach(function (b) { b.disabled = false; });
      }
      function next(i) {
        if (i === jobs.length) {
          form.querySelectorAll("input[type=file]").forEach(function (input) { input.value = ""; });
          if (then === "submit") {
            var field = document.createElement("input");
            field.type = "hidden"; field.name = "then"; field.value = "submit";
            form.appendChild(field);
            form.submit();
          } else {
            window.location.assign(form.dataset.base + "#materials");
          }
          return;
        }
        var job = jobs[i];
        var kind = job.input.getAttribute("data-kind");
        var body = new FormData();
        body.append("csrf_token", csrf());
        body.append("kind", kind);
        body.append("file", job.file);
        var title = form.querySelector("[name=title_" + kind + "]");
        if (title && title.value) { body.append("physician_title", title.value); }
        if (status) { status.textContent = "正在上传第 " + (i + 1) + " / " + jobs.length + " 个：" + job.file.name; }
        var xhr = new XMLHttpRequest();
        xhr.open("POST", form.dataset.base + "/materials");
        xhr.setRequestHeader("X-CSRF-Token", csrf());
        xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
        xhr.upload.addEventListener("progress", function (e) {
          if (e.lengthComputable && bar) { bar.value = Math.round(((i + e.loaded / e.total) / jobs.length) * 100); }
        });
        xhr.addEventListener("load", function () {
          var answer = {};
          try { answer = JSON.parse(xhr.responseText); } catch (ignored) { answer = {}; }
          if (xhr.status >= 200 && xhr.status < 300) { next(i + 1); }
          else { fail(job.file.name + "：" + (answer.detail || "上传失败，请重试") + (i ? "（此前的文件已上传）" : "")); }
        });
        xhr.addEventListener("error", function () { fail("网络异常，请检查网络后重试"); });
        xhr.send(body);
      }
      next(0);
    });
  }

  // The reviewer's workbench (staff/application.html while holding the claim): verdicts beside each
  // material, reason details that open when ticked, the approval check, keyboard shortcuts, and the
  // release of the claim when the reviewer leaves without deciding. Without this script the page's
  // forms do the same work (the server refuses what this would have asked about).
  function bindReview(form) {
    var sections = Array.prototype.slice.call(document.querySelectorAll(".material-card"));
    var current = 0;
    var leaving = false;
    var help = document.getElementById("shortcuts");
    var confirmField = document.getElementById("confirm-unmarked");

    function focusMaterial(i) {
      if (!sections.length) { return; }
      current = Math.max(0, Math.min(sections.length - 1, i));
      sections.forEach(function (s, k) { s.classList.toggle("current", k === current); });
      sections[current].focus();
    }
    function verdictOf(section) {
      var picked = section.querySelector("input[type=radio]:checked");
      return picked ? picked.value : "";
    }
    function mark(section, value) {
      var radio = section.querySelector("input[type=radio][value=" + value + "]");
      if (radio) { radio.checked = true; }
    }
    function reasonChecked() { return form.querySelector("input[name=reason]:checked") !== null; }

    form.querySelectorAll(".reason").forEach(function (box) {
      var tick = box.querySelector("input[type=checkbox]");
      var detail = box.querySelector(".reason-detail");
      function sync() { box.classList.toggle("on", tick.checked); }
      tick.addEventListener("change", function () { sync(); if (tick.checked && detail) { detail.focus(); } });
      sync();
    });

    var all = document.getElementById("all-acceptable");
    if (all) {
      all.hidden = false;
      all.addEventListener("click", function () { sections.forEach(function (s) { mark(s, "acceptable"); }); });
    }

    form.addEventListener("submit", function (event) {
      var outcome = event.submitter ? event.submitter.value : "";
      if (outcome === "approve" && confirmField && confirmField.type === "hidden") {
        var bad = sections.filter(function (s) { return s.dataset.required && ["unclear", "invalid"].indexOf(verdictOf(s)) >= 0; });
        var unmarked = sections.filter(function (s) { return s.dataset.required && !verdictOf(s); });
        if (bad.length) {
          event.preventDefault();
          window.alert("以下材料标注为不清晰或无效，不能审核通过：" + bad.map(function (s) { return s.dataset.name; }).join("、") + "。请改为退回补正，或重新标注。");
          return;
        }
        if (unmarked.length) {
          if (!window.confirm("以下必需材料尚未标注为合格：\n" + unmarked.map(function (s) { return s.dataset.name; }).join("\n") + "\n\n确认未标注也审核通过？")) {
            event.preventDefault();
            focusMaterial(sections.indexOf(unmarked[0]));
            return;
          }
          confirmField.value = "1";
        }
      }
      if ((outcome === "return" || outcome === "reject") && !reasonChecked()) {
        event.preventDefault();
        window.alert("退回或不予通过时至少选择一条原因");
        var first = form.querySelector("input[name=reason]");
        if (first) { first.focus(); }
        return;
      }
      leaving = true;
    });
    document.querySelectorAll("#skip-form, #release-form").forEach(function (f) {
      f.addEventListener("submit", function () { leaving = true; });
    });

    // Back to the queue while holding the claim: release it first, in the same request (the beacon below
    // could arrive after the queue has loaded, which would still show the case as held).
    var back = document.getElementById("back-to-queue");
    var releaseForm = document.getElementById("release-form");
    if (back && releaseForm && releaseForm.requestSubmit) {
      back.addEventListener("click", function (event) {
        if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) { return; }
        event.preventDefault();
        releaseForm.requestSubmit();
      });
    }

    // Leaving otherwise without deciding releases the claim (a beacon survives the page); the idle lapse stays.
    // The beacon names the claim this page showed: a reload (or the same application opened again) renews
    // the claim before this page is left, and the renewed claim stays.
    window.addEventListener("pagehide", function () {
      if (leaving || !navigator.sendBeacon) { return; }
      var body = new FormData();
      body.append("csrf_token", csrf());
      body.append("claim", form.dataset.claim || "");  // this page's claim: not the one a reload takes next
      navigator.sendBeacon("/staff/applications/" + form.dataset.app + "/release", body);
    });

    document.addEventListener("keydown", function (event) {
      var t = event.target;
      if (event.ctrlKey || event.metaKey || event.altKey) { return; }
      if (t && (t.isContentEditable || t.tagName === "TEXTAREA" || t.tagName === "SELECT" ||
                (t.tagName === "INPUT" && ["text", "search", "number", "password"].indexOf(t.type) >= 0))) { return; }
      var key = event.key;
      var section = sections[current];
      function view(action) { var b = section && section.querySelector("[data-view=" + action + "]"); if (b) { b.click(); } }
      var handled = true;
      if (key === "?") { if (help.open) { help.close(); } else { help.showModal(); } }
      else if (help.open) { handled = false; }
      else if (key === "j" || key === "J") { focusMaterial(current + 1); }
      else if (key === "k" || key === "K") { focusMaterial(current - 1); }
      else if (key === "+" || key === "=") { view("in"); }
      else if (key === "-") { view("out"); }
      else if (key === "r" || key === "R") { view("rotate"); }
      else if (key === "0") { view("reset"); }
      else if ((key === "1" || key === "2" || key === "3") && section) {
        mark(section, {"1": "acceptable", "2": "unclear", "3": "invalid"}[key]);
        focusMaterial(current + 1);
      }
      else if (key === "g" || key === "G") { if (all) { all.click(); } }
      else if (key === "a" || key === "A") { form.requestSubmit(document.getElementById("approve")); }
      else if (key === "t" || key === "T") { form.requestSubmit(document.getElementById("return")); }
      else if (key === "n" || key === "N") { document.getElementById("skip-form").requestSubmit(); }
      else { handled = false; }
      if (handled) { event.preventDefault(); }
    });
    focusMaterial(0);
  }

  document.documentElement.classList.add("js");
  document.addEventListener("DOMContentLoaded", function () {
    bindAll(document);
    document.querySelectorAll(".viewer").forEach(bindViewer);
    document.querySelectorAll("form[data-keep]").forEach(bindKeep);
    document.querySelectorAll("input[data-filters]").forEach(bindSearch);
    if (document.getElementById("materials")) { forgetKept(); }
    document.querySelectorAll("form#decision").forEach(bindReview);
    document.querySelectorAll("form.batch-form").forEach(bindBatch);
  });
})();
