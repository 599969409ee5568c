/* The customer payment page, progressively enhanced (the page works without this file):
   - the pay button shows the sum of the selected invoices and is disabled when none is;
   - a long invoice list gets search by folio and sorting (ticked boxes stay ticked);
   - SPEI and cash instructions get copy buttons and a print button;
   - the status page asks for the payment's status (after 1 s, then every 3 s) and reloads
     when it changes (and once "Confirmando tu pago…" has had its time). */
(function () {
  "use strict";

  function decimalsOf(currency) {
    try {
      return new Intl.NumberFormat("es-MX", { style: "currency", currency: currency })
        .resolvedOptions().maximumFractionDigits;
    } catch (e) {
      return 2;
    }
  }

  function format(minor, currency) {
    var decimals = decimalsOf(currency);
    var amount = minor / Math.pow(10, decimals);
    try {
      return new Intl.NumberFormat("es-MX", {
        style: "currency", currency: currency,
        minimumFractionDigits: decimals, maximumFractionDigits: decimals
      }).format(amount);
    } catch (e) {
      return amount.toFixed(decimals) + " " + currency;
    }
  }

  function invoiceForm(form) {
    var pay = form.querySelector("button[data-pay]");
    var total = form.querySelector("[data-total]");
    var calc = form.querySelector("button[data-calc]");
    if (!pay || !total) { return; }
    if (calc) { calc.hidden = true; }
    // The pay button shows the live sum: the server need not confirm the amount on a next page.
    var live = document.createElement("input");
    live.type = "hidden"; live.name = "vivo"; live.value = "1";
    form.appendChild(live);

    function update() {
      var boxes = form.querySelectorAll("input[type=checkbox][name=factura]:checked:not(:disabled)");
      var sum = 0, currency = null, mixed = false;
      Array.prototype.forEach.call(boxes, function (box) {
        sum += parseInt(box.getAttribute("data-minor"), 10) || 0;
        var c = box.getAttribute("data-currency");
        if (currency === null) { currency = c; } else if (c !== currency) { mixed = true; }
      });
      if (!boxes.length) {
        pay.disabled = true;
        pay.textContent = "Pagar";
        total.textContent = "Ninguna factura seleccionada";
      } else if (mixed) {
        pay.disabled = true;
        pay.textContent = "Pagar";
        total.textContent = "Las facturas seleccionadas están en monedas distintas";
      } else {
        var text = format(sum, currency);
        var n = boxes.length;
        pay.disabled = false;
        pay.textContent = "Pagar " + text;
        total.textContent = "Total seleccionado: " + text + " (" + n + (n === 1 ? " factura)" : " facturas)");
      }
    }

    form.addEventListener("change", update);
    window.addEventListener("pageshow", update);
    update();
  }

  function follow(section) {
    var url = section.getAttribute("data-poll");
    var shown = section.getAttribute("data-status");
    function ask() {
      fetch(url, { headers: { "Accept": "application/json" }, cache: "no-store", credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          if (body && body.status !== shown) { window.location.reload(); return; }
          window.setTimeout(ask, 3000);
        })
        .catch(function () { window.setTimeout(ask, 3000); });
    }
    window.setTimeout(ask, 1000);  // the processor's webhook usually arrives within a second
    if (section.getAttribute("data-confirming")) {
      // "Confirmando tu pago…" lasts a few seconds; then the page offers continue / cancel.
      window.setTimeout(function () { window.location.reload(); }, 21000);
    }
  }

  function copyButton(button) {
    button.hidden = false;
    var label = button.textContent;
    button.addEventListener("click", function () {
      var value = button.getAttribute("data-copy");
      function done() {
        button.textContent = button.getAttribute("data-done") || label;
        window.setTimeout(function () { button.textContent = label; }, 3000);
      }
      function fallback() {
        var area = document.createElement("textarea");
        area.value = value;
        area.setAttribute("readonly", "");
        area.style.position = "absolute";
        area.style.left = "-9999px";
        document.body.appendChild(area);
        area.select();
        try { document.execCommand("copy"); } catch (e) { /* the value stays visible */ }
        document.body.removeChild(area);
        done();
      }
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(value).then(done, fallback);
      } else {
        fallback();
      }
    });
  }

  function printButton(button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  }

  function listTools(tools) {
    var table = document.querySelector("table.documents tbody");
    var search = tools.querySelector("[data-search]");
    var sort = tools.querySelector("[data-sort]");
    var shown = tools.querySelector("[data-shown]");
    if (!table) { return; }
    tools.hidden = false;
    var rows = Array.prototype.slice.call(table.querySelectorAll("tr[data-folio]"));
    var keys = {
      due: function (r) { return parseInt(r.getAttribute("data-order"), 10); },
      balance: function (r) { return -parseInt(r.getAttribute("data-minor"), 10); },
      folio: function (r) { return r.getAttribute("data-folio"); }
    };
    function apply() {
      var key = keys[sort.value] || keys.due;
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        return x < y ? -1 : (x > y ? 1 : 0);
      });
      var wanted = search.value.trim().toLowerCase(), count = 0;
      rows.forEach(function (row) {
        var match = !wanted || row.getAttribute("data-folio").toLowerCase().indexOf(wanted) !== -1;
        row.hidden = !match;
        if (match) { count += 1; }
        table.appendChild(row);
      });
      shown.textContent = wanted ? count + (count === 1 ? " factura encontrada" : " facturas encontradas") : "";
    }
    search.addEventListener("input", apply);
    sort.addEventListener("change", apply);
  }

  function autosubmit(form) {
    // A 3-D Secure challenge: posted into its frame at once, once per payment in this tab (a
    // reload, or the status poll, must not post the creq again: the issuer may refuse a second
    // one); after that, and without JavaScript, its button.
    var key = "b2bgw-3ds:" + form.getAttribute("data-autosubmit");
    try {
      if (window.sessionStorage.getItem(key)) { return; }
      window.sessionStorage.setItem(key, "1");
    } catch (e) {
      return; // no storage: cannot tell a reload from the first visit, the button is there
    }
    form.submit();
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-list-tools]"), listTools);
    Array.prototype.forEach.call(document.querySelectorAll("button[data-copy]"), copyButton);
    Array.prototype.forEach.call(document.querySelectorAll("button[data-print]"), printButton);
    Array.prototype.forEach.call(document.querySelectorAll("form[data-invoice-form]"), invoiceForm);
    Array.prototype.forEach.call(document.querySelectorAll("[data-poll]"), follow);
    Array.prototype.forEach.call(document.querySelectorAll("form[data-autosubmit]"), autosubmit);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
