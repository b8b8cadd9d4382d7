/* leadbridge embed.js. <script src=".../embed.js" data-form="contact-us" async></script> renders
 * the form there (data-lang="de" picks a language); <form data-leadbridge="contact-us"> is enhanced.
 * The DOM is built from text only, never from HTML: nothing a form says can run as code. */
(function () {
  "use strict";
  var BASE = ""; // LEADBRIDGE_PUBLIC_URL, filled in by the server when set
  var me = document.currentScript;
  if (!BASE && me && me.src) BASE = me.src.replace(/\/(static\/)?embed\.js([?#].*)?$/, "");
  var seq = 0, TOKEN_AGE = 432e5, TRIES = 5; // a token is refreshed after 12 h (it lasts 24)

  var E = "var(--lb-error,#b00020)", R = "border-radius:var(--lb-radius,4px)";
  var CSS = ".lb{font:var(--lb-font,inherit);color:var(--lb-text,inherit);max-width:var(--lb-width,36rem)}.lb *{box-sizing:border-box}" +
    ".lb-field{margin:0 0 var(--lb-gap,1rem)}label,legend{display:block;font-weight:600;margin-bottom:.25rem}fieldset{border:0;margin:0;padding:0}" +
    ".lb-option,.lb-check{font-weight:400;display:flex;gap:.5rem}input:not([type=checkbox]):not([type=radio]),select,textarea{width:100%;" +
    "padding:.5rem;font:inherit;color:inherit;background:var(--lb-bg,#fff);border:1px solid var(--lb-border,#8a9199);" + R + "}" +
    ":focus{outline:3px solid var(--lb-focus,#ffbf47)}.lb-help{margin:.25rem 0 0;opacity:.8}" +
    ".lb-invalid :is(input,select,textarea){border:2px solid " + E + "}.lb-error{color:" + E + ";font-weight:600;margin:.25rem 0 0}" +
    ".lb-summary{border:3px solid " + E + ";padding:.5rem 1rem;margin:0 0 1rem}.lb-summary a{color:" + E + "}" +
    "button{background:var(--lb-accent,#0b5cad);color:var(--lb-accent-text,#fff);border:0;padding:.6rem 1.4rem;font:inherit;font-weight:600;" + R + "}" +
    "button[disabled]{opacity:.6}.lb-hp{position:absolute;left:-1e4px;width:1px;overflow:hidden}";

  function each(list, fn) { Array.prototype.forEach.call(list, fn); }
  // el: an element with attributes (null, false left out) and children (nodes or text).
  function el(tag, attrs) {
    var e = document.createElement(tag);
    for (var k in attrs) if (attrs[k] != null && attrs[k] !== false) e.setAttribute(k, attrs[k] === true ? "" : attrs[k]);
    for (var i = 2; i < arguments.length; i++) if (arguments[i] != null) e.append(arguments[i]);
    return e;
  }
  function web(u) { return typeof u === "string" && /^https?:\/\//i.test(u); }
  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var a = new Uint8Array(16); crypto.getRandomValues(a);
    return Array.from(a, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }
  function definition(id, lang) {
    return fetch(BASE + "/f/" + encodeURIComponent(id) + "/definition?lang=" + encodeURIComponent(lang || ""), { credentials: "omit" }).then(function (r) {
      if (!r.ok) throw new Error("leadbridge: form " + id + ": " + r.status);
      return r.json();
    });
  }

  // A form on the page, rendered from its definition or the page's own.
  function Form(id, def, form) {
    var own = form.elements._idempotency_key; // the hosted page's key: one per page
    this.id = id; this.def = def; this.form = form; this.loaded = Date.now(); this.uid = "lb" + (++seq) + "-";
    this.key = own && own.value;
    this.button = form.querySelector("button[type=submit],button:not([type]),input[type=submit]");
    form.append(this.status = el("div", { "class": "lb-status", role: "status", "aria-live": "polite" }));
    form.prepend(this.summary = el("div", { "class": "lb-summary", role: "alert", tabindex: "-1", hidden: true }));
    if (!form.elements._lb_token) this.hidden("_lb_token", def.token);
    if (!form.elements._lang) this.hidden("_lang", def.language);
    if (def.honeypot && !form.elements[def.honeypot]) this.honeypot(def.honeypot);
    this.captcha();
    form.noValidate = true;
    form.addEventListener("submit", function (ev) { ev.preventDefault(); this.submit(); }.bind(this));
  }
  var F = Form.prototype;
  F.msg = function (k, n) { return String(this.def.messages[k] || "").replace(/%[ds]/, n); };
  F.hidden = function (name, value) { this.form.append(el("input", { type: "hidden", name: name, value: value })); };
  F.honeypot = function (name) {
    var id = this.uid + "hp";
    this.form.prepend(el("div", { "class": "lb-hp", "aria-hidden": "true" }, el("label", { "for": id }, "Leave this field empty"),
      el("input", { id: id, name: name, type: "text", tabindex: "-1", autocomplete: "off" })));
  };

  // The captcha widget, before the button (the hosted page renders its own).
  F.captcha = function () {
    var c = this.def.captcha, self = this, v3 = c && c.provider === "recaptcha-v3", cb = "__lbCaptcha" + seq;
    if (!c || !web(c.script) || this.form.querySelector(".lb-captcha") || (v3 && window.grecaptcha)) return;
    var api = { turnstile: "turnstile", hcaptcha: "hcaptcha" }[c.provider] || "grecaptcha", box = el("div", { "class": "lb-captcha" });
    if (!v3) this.form.insertBefore(box, this.button);
    window[cb] = function () {
      window[api].render(box, { sitekey: c.site_key, action: c.action || undefined, callback: function (t) { self.response = t; } });
    };
    if (!v3 && window[api] && window[api].render) return window[cb]();
    document.head.append(el("script", { src: v3 ? c.script : c.script + (/\?/.test(c.script) ? "&" : "?") + "render=explicit&onload=" + cb, async: true }));
  };

  F.values = function () {
    var out = {};
    new FormData(this.form).forEach(function (v, k) { if (typeof v === "string") out[k] = k in out ? [].concat(out[k], v) : v; });
    return out;
  };

  F.submit = function () {
    if (this.busy) return; // a double click sends once
    var self = this, c = this.def.captcha;
    this.setBusy(true);
    this.key = this.key || newKey();
    var data = this.values();
    data._page = data._page || location.href;
    if (!("_referrer" in data)) data._referrer = document.referrer;
    var ready = Promise.resolve();
    if (Date.now() - this.loaded > TOKEN_AGE) {
      ready = definition(this.id, this.def.language).then(function (d) {
        self.def.token = d.token; self.loaded = Date.now(); self.form.elements._lb_token.value = d.token; data._lb_token = d.token;
      });
    }
    if (c && c.provider === "recaptcha-v3" && window.grecaptcha) {
      ready = ready.then(function () {
        return new Promise(function (ok) { grecaptcha.ready(function () { grecaptcha.execute(c.site_key, { action: c.action || "submit" }).then(ok, ok); }); });
      }).then(function (t) { if (typeof t === "string") data[c.field] = t; });
    } else if (c && this.response && !data[c.field]) data[c.field] = this.response;
    ready.then(function () { self.send(data, 0); }, function () { self.send(data, 0); });
  };

  F.send = function (data, n) {
    var self = this;
    fetch(BASE + this.def.action, {
      method: "POST", mode: "cors", credentials: "omit", body: JSON.stringify(data),
      headers: { "Content-Type": "application/json", Accept: "application/json", "Idempotency-Key": this.key }
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (b) { self.answer(r.status, r.headers.get("Retry-After"), b, data, n); });
    }, function () { self.retry(data, n, 0); });
  };

  F.answer = function (st, ra, b, data, n) {
    if (st === 202 || st === 200) return this.done(b.id);
    if (st === 422 && b.fields) { this.setBusy(false); return this.errors(b.fields); }
    if (st === 422 && b.error === "idempotency_key_reused") { this.key = newKey(); return this.fail(this.msg("key_reused")); }
    if (st === 429 || st >= 500) return this.retry(data, n, parseInt(ra, 10) || 0, b.message);
    this.fail(b.message || this.msg("failed"));
  };

  // Network errors, 429, 5xx: again with the same key (no second lead), after Retry-After or a growing wait.
  F.retry = function (data, n, after, why) {
    var self = this, wait = after ? after * 1000 : Math.min(1000 * Math.pow(2, n), 16000) * (0.75 + Math.random() / 2);
    if (n + 1 >= TRIES || wait > 120e3) return this.fail(why || this.msg("failed"));
    this.status.textContent = this.msg("retrying", Math.ceil(wait / 1000));
    setTimeout(function () { self.send(data, n + 1); }, wait);
  };

  F.fail = function (text) { this.setBusy(false); this.status.textContent = ""; this.show(el("p", {}, text)); };

  F.setBusy = function (on) {
    var b = this.button;
    this.busy = on;
    if (!b) return;
    if (on) this.label = b.textContent;
    b.disabled = on;
    b.textContent = on ? this.msg("sending") : this.label;
  };

  F.done = function (id) {
    var d = this.def, thanks = this.form.getAttribute("data-lb-thanks");
    this.key = null;
    if (web(d.success_url)) return location.assign(d.success_url);
    if (/^\/[^/\\]/.test(thanks || "")) return location.assign(thanks + (/\?/.test(thanks) ? "&" : "?") + "id=" + encodeURIComponent(id || ""));
    var box = el("div", { "class": "lb-thanks", role: "status", tabindex: "-1" }, el("h2", {}, this.msg("thanks_title")), el("p", {}, d.thank_you));
    this.form.replaceWith(box);
    box.focus();
  };

  F.show = function (a, b) { var s = this.summary; s.textContent = ""; s.append(a, b || ""); s.hidden = false; s.focus(); };

  // Field errors from a 422, inline and in a summary; focus goes to the first.
  F.errors = function (fields) {
    var self = this, form = this.form, first = null, list = el("ul"), count = 0, mine = this.uid + "e-";
    this.status.textContent = "";
    each(form.querySelectorAll(".lb-error"), function (e) { e.remove(); });
    each(form.querySelectorAll(".lb-invalid"), function (e) { e.classList.remove("lb-invalid"); });
    each(form.querySelectorAll("[aria-invalid]"), function (e) {
      e.removeAttribute("aria-invalid");
      var d = (e.getAttribute("aria-describedby") || "").split(" ").filter(function (x) { return x.indexOf(mine); }).join(" ");
      d ? e.setAttribute("aria-describedby", d) : e.removeAttribute("aria-describedby");
    });
    var names = this.def.fields.map(function (f) { return f.name; });
    names.concat(Object.keys(fields).filter(function (k) { return names.indexOf(k) < 0; })).forEach(function (name) {
      if (!(name in fields)) return;
      count++;
      var ctl = form.elements[name], fd = self.def.fields.filter(function (f) { return f.name === name; })[0];
      var label = fd ? fd.label : name, text = label + " " + fields[name];
      if (ctl && !ctl.tagName && ctl.length) ctl = ctl[0].closest("fieldset") || ctl[0]; // a group
      if (!ctl || !ctl.closest || ctl.type === "hidden") return list.append(el("li", {}, text));
      var id = mine + name, box = ctl.closest(".lb-field") || ctl.parentNode, a = el("a", { href: "#" }, label);
      box.classList.add("lb-invalid");
      box.append(el("p", { "class": "lb-error", id: id }, text));
      ctl.setAttribute("aria-invalid", "true");
      ctl.setAttribute("aria-describedby", ((ctl.getAttribute("aria-describedby") || "") + " " + id).trim());
      a.addEventListener("click", function (ev) { ev.preventDefault(); ctl.focus(); });
      list.append(el("li", {}, a, " " + fields[name]));
      first = first || ctl;
    });
    this.show(el("h2", {}, count === 1 ? this.msg("summary_one") : this.msg("summary_many", count)), list);
    if (first) first.focus();
  };

  // Rendered into a shadow root: the page's styles stay out, ours in; CSS variables style it.
  function render(host, def) {
    var uid = "lb" + (seq + 1) + "-", form = el("form", { "class": "lb-form", "data-leadbridge": def.id });
    def.fields.forEach(function (f) { form.append(field(f, def, uid)); });
    form.append(el("button", { type: "submit" }, def.submit));
    host.attachShadow({ mode: "open" }).append(el("style", {}, CSS), el("div", { "class": "lb", lang: def.language },
      el("h2", {}, def.title), def.intro ? el("p", { "class": "lb-intro" }, def.intro) : null, form));
    return form;
  }

  function field(f, def, uid) {
    var id = uid + "f-" + f.name, ctl, c = def.consent, box = el("div", { "class": "lb-field", "data-field": f.name });
    var help = f.help ? el("p", { "class": "lb-help", id: uid + "h-" + f.name }, f.help) : null;
    var at = { id: id, name: f.name, required: f.required, "aria-describedby": help && help.id, placeholder: f.placeholder, maxlength: f.maxlength };
    var star = f.required ? el("span", { "aria-hidden": "true" }, " *") : null;
    if (f.type === "checkbox") {
      at.type = "checkbox"; at.value = "true";
      box.append(el("label", { "class": "lb-check" }, ctl = el("input", at), f.label, star));
      if (f.consent && c && web(c.policy_url)) box.append(el("p", { "class": "lb-help" }, el("a", { href: c.policy_url, target: "_blank", rel: "noopener" }, c.policy_label)));
    } else if (f.type === "radio" || f.type === "checkboxes") {
      box.append(ctl = el("fieldset", { id: id, tabindex: "-1", "aria-describedby": at["aria-describedby"] }, el("legend", {}, f.label, star)));
      f.options.forEach(function (o, i) {
        ctl.append(el("label", { "class": "lb-option" }, el("input", { type: f.type === "radio" ? "radio" : "checkbox", name: f.name, value: o.value, id: id + "-" + i }), o.label));
      });
    } else {
      box.append(el("label", { "for": id }, f.label, star));
      if (f.type === "select") {
        ctl = el("select", at, el("option", { value: "" }, def.messages.choose));
        f.options.forEach(function (o) { ctl.append(el("option", { value: o.value }, o.label)); });
      } else if (f.type === "textarea") {
        at.rows = 5;
        ctl = el("textarea", at);
      } else {
        at.type = { email: "email", tel: "tel" }[f.type] || "text";
        at.autocomplete = f.autocomplete;
        ctl = el("input", at);
      }
      box.append(ctl);
    }
    box.append(help || "");
    return box;
  }

  function start(id, lang, host, form) {
    definition(id, lang).then(function (def) {
      new Form(id, def, form || render(host, def));
    }).catch(function (e) { console.warn(e.message); });
  }

  function init() {
    if (me && me.getAttribute("data-form") && !me.hasAttribute("data-lb-done")) {
      me.setAttribute("data-lb-done", "");
      var target = me.getAttribute("data-target") && document.getElementById(me.getAttribute("data-target"));
      var host = target || el("div", { "class": "leadbridge-form" });
      if (!target) me.parentNode.insertBefore(host, me.nextSibling);
      start(me.getAttribute("data-form"), me.getAttribute("data-lang"), host, null);
    }
    each(document.querySelectorAll("form[data-leadbridge]:not([data-lb-done])"), function (f) {
      f.setAttribute("data-lb-done", "");
      var lang = f.elements._lang ? f.elements._lang.value : f.getAttribute("data-lang");
      start(f.getAttribute("data-leadbridge"), lang, null, f);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
