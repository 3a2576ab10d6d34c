# ruff: noqa: E501  (CSS and JS kept one rule / statement per line)
"""The stylesheet and script that ``eval.report_html`` inlines into report.html (no network, no framework).

The script reads the page's JSON block and renders the examples table: one dataset at a time, sorted by the
Δ of a chosen model against the first (largest regressions first by default), filtered by category, flag and
text, 50 rows a page. Every piece of record text goes in through ``textContent``: answers are untrusted.
"""

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:1.2em 2em;color:#222}
h1{margin:.2em 0}h2{border-bottom:1px solid #ccc;margin-top:1.6em}h3 small,h4 small{color:#777;font-weight:normal}
.meta{color:#555}nav a{margin-right:1em}
table{border-collapse:collapse;margin:.4em 0}th,td{border:1px solid #ddd;padding:3px 7px;vertical-align:top;text-align:left}
.scroll{overflow-x:auto}tr.flagrow td{font-size:12px;color:#555}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.headline th,tr.headline td{font-weight:bold}
.delta.up{background:#e3f6e3;color:#14611d}.delta.down{background:#fbe4e4;color:#9b1c1c}.delta.flat{color:#666}
.warnings p,.warn{color:#9b1c1c;font-weight:bold}td.warn{background:#fff3e0}
.charts{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0}img{max-width:100%}figcaption{color:#777;font-size:12px}
#controls{display:flex;flex-wrap:wrap;gap:.8em;align-items:center;margin:.5em 0}#controls label{white-space:nowrap}
#pager{margin:.4em 0}#pager button{margin-right:.4em}
table.examples{width:100%;table-layout:fixed}table.examples td{word-wrap:break-word;overflow-wrap:anywhere}
table.examples th.idx{width:3.5em}table.examples th.dcol{width:5.5em}
.text{white-space:pre-wrap}.text.folded{max-height:7.5em;overflow:hidden;-webkit-mask-image:linear-gradient(#000 70%,transparent)}
button.fold{font-size:11px;padding:0 .5em;margin-top:2px}
.flag{display:inline-block;background:#fdecc8;color:#8a4b00;border-radius:3px;padding:0 4px;margin:0 3px 2px 0;font-size:11px}
.scores{color:#555;font-size:12px}.group{color:#555;font-size:12px}
.judge{font-size:12px;border-top:1px dashed #ccc;margin-top:3px;padding-top:3px}
tr.flagged>td:first-child{border-left:4px solid #e8a33d}
"""

SCRIPT = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("medft-data").textContent);
  var models = data.models, PAGE = 50, FOLD = 280;
  var state = {ds: 0, model: models.length > 1 ? 1 : 0, sort: "delta-asc", group: "", flag: "", q: "", page: 0};
  var controls = document.getElementById("controls"), pager = document.getElementById("pager");
  var holder = document.getElementById("examples-table");

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function select(id, label, options, value, onChange) {
    var wrap = el("label", null, label + " "), box = el("select");
    box.id = id;
    options.forEach(function (o) {
      var option = el("option", null, o[1]);
      option.value = String(o[0]);
      if (String(o[0]) === String(value)) option.selected = true;
      box.appendChild(option);
    });
    box.addEventListener("change", function () { onChange(box.value); state.page = 0; draw(); });
    wrap.appendChild(box);
    return wrap;
  }
  function fmt(x) { return x === null || x === undefined ? "—" : (Math.round(x * 1000) / 1000).toFixed(3); }
  function delta(rec) {
    var a = rec.s[state.model], b = rec.s[0];
    return (state.model === 0 || a === null || b === null || a === undefined || b === undefined) ? null : a - b;
  }
  function haystack(rec) {
    if (rec._h === undefined) rec._h = (rec.p + "\n" + rec.r + "\n" + rec.a.join("\n") + "\n" + rec.g).toLowerCase();
    return rec._h;
  }
  function folded(text) {
    var box = el("div"), body = el("div", "text", text);
    box.appendChild(body);
    if (text.length > FOLD) {
      body.classList.add("folded");
      var button = el("button", "fold", "more (" + text.length + " chars)");
      button.type = "button";
      button.addEventListener("click", function () {
        var open = body.classList.toggle("folded");
        button.textContent = open ? "more (" + text.length + " chars)" : "less";
      });
      box.appendChild(button);
    }
    return box;
  }
  function buildControls() {
    controls.textContent = "";
    var ds = data.datasets[state.ds];
    controls.appendChild(select("ctl-dataset", "dataset", data.datasets.map(function (d, i) {
      return [i, d.name + " (" + d.task + ", " + d.records.length + ")"];
    }), state.ds, function (v) { state.ds = +v; state.group = ""; state.flag = ""; buildControls(); }));
    if (models.length > 1) {
      controls.appendChild(select("ctl-model", "Δ of", models.slice(1).map(function (m, i) {
        return [i + 1, m + " − " + models[0]];
      }), state.model, function (v) { state.model = +v; }));
    }
    controls.appendChild(select("ctl-sort", "sort", [["delta-asc", "Δ ascending (largest regressions first)"],
      ["delta-desc", "Δ descending (largest gains first)"], ["index", "record order"]], state.sort,
      function (v) { state.sort = v; }));
    var groups = {};
    if (ds) ds.records.forEach(function (r) { if (r.g) groups[r.g] = (groups[r.g] || 0) + 1; });
    var names = Object.keys(groups).sort();
    if (names.length) {
      controls.appendChild(select("ctl-group", "category", [["", "all"]].concat(names.map(function (g) {
        return [g, g + " (" + groups[g] + ")"];
      })), state.group, function (v) { state.group = v; }));
    }
    controls.appendChild(select("ctl-flag", "flag", [["", "any record"], ["*", "any flag"]].concat(
      data.flags.map(function (f) { return [f, f]; })), state.flag, function (v) { state.flag = v; }));
    var search = el("input");
    search.id = "ctl-search";
    search.type = "search";
    search.placeholder = "search question, reference, answers";
    search.value = state.q;
    search.addEventListener("input", function () { state.q = search.value.toLowerCase(); state.page = 0; draw(); });
    controls.appendChild(search);
  }
  function rows() {
    var ds = data.datasets[state.ds];
    if (!ds) return [];
    var out = ds.records.filter(function (r) {
      if (state.group && r.g !== state.group) return false;
      if (state.flag === "*" && !r.f.some(function (f) { return f.length; })) return false;
      if (state.flag && state.flag !== "*" && !r.f.some(function (f) { return f.indexOf(state.flag) >= 0; })) return false;
      return !state.q || haystack(r).indexOf(state.q) >= 0;
    });
    if (state.sort === "index") return out;
    var sign = state.sort === "delta-asc" ? 1 : -1;
    return out.slice().sort(function (x, y) {
      var a = delta(x), b = delta(y);
      if (a === null && b === null) return x.i - y.i;
      if (a === null) return 1;
      if (b === null) return -1;
      return sign * (a - b) || x.i - y.i;
    });
  }
  function draw() {
    var ds = data.datasets[state.ds], list = rows();
    var pages = Math.max(1, Math.ceil(list.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    pager.textContent = "";
    var prev = el("button", null, "‹ prev"), next = el("button", null, "next ›");
    prev.id = "page-prev"; next.id = "page-next";
    prev.disabled = state.page === 0; next.disabled = state.page >= pages - 1;
    prev.addEventListener("click", function () { state.page -= 1; draw(); });
    next.addEventListener("click", function () { state.page += 1; draw(); });
    pager.appendChild(prev); pager.appendChild(next);
    pager.appendChild(el("span", null, list.length + " records · page " + (state.page + 1) + " of " + pages));
    holder.textContent = "";
    if (!ds) { holder.appendChild(el("p", null, "No examples: no scored predictions in this report.")); return; }
    var judged = ds.records.some(function (r) { return r.j; });
    var table = el("table", "examples"), head = el("tr");
    head.appendChild(el("th", "idx", "#"));
    head.appendChild(el("th", null, "question"));
    head.appendChild(el("th", null, "reference"));
    models.forEach(function (m) { head.appendChild(el("th", null, m)); });
    if (models.length > 1) {
      var dh = el("th", "dcol", "Δ");
      dh.title = "Δ " + (ds.headline || "score") + " of the chosen model − " + models[0];
      head.appendChild(dh);
    }
    if (judged) head.appendChild(el("th", null, "judge"));
    table.appendChild(head);
    list.slice(state.page * PAGE, (state.page + 1) * PAGE).forEach(function (r) {
      var tr = el("tr");
      tr.setAttribute("data-index", r.i);
      if (r.f.some(function (f) { return f.length; })) tr.classList.add("flagged");
      var first = el("td", null, r.i);
      tr.appendChild(first);
      var question = el("td");
      if (r.g) question.appendChild(el("div", "group", r.g));
      question.appendChild(folded(r.p));
      tr.appendChild(question);
      tr.appendChild(el("td")).appendChild(folded(r.r));
      models.forEach(function (m, k) {
        var cell = el("td");
        cell.setAttribute("data-model", m);
        r.f[k].forEach(function (f) {
          var badge = el("span", "flag", f);
          badge.setAttribute("data-flag", f);
          cell.appendChild(badge);
        });
        cell.appendChild(folded(r.a[k]));
        cell.appendChild(el("div", "scores", (ds.headline || "score") + " " + fmt(r.s[k])));
        var parts = [];
        ds.columns.forEach(function (c, j) { if (c !== ds.headline) parts.push(c + " " + fmt(r.m[k][j])); });
        if (parts.length) {
          var more = el("details", "scores");
          more.appendChild(el("summary", null, parts.length + " more scores"));
          more.appendChild(el("div", null, parts.join(" · ")));
          cell.appendChild(more);
        }
        tr.appendChild(cell);
      });
      if (models.length > 1) {
        var d = delta(r), cell = el("td", "num delta " + (d > 0 ? "up" : d < 0 ? "down" : "flat"),
          d === null ? "—" : (d > 0 ? "+" : "") + fmt(d));
        cell.setAttribute("data-delta", d === null ? "" : String(d));
        tr.appendChild(cell);
      }
      if (judged) {
        var jc = el("td");
        (r.j || []).forEach(function (j) {
          var box = el("div", "judge");
          box.appendChild(el("div", null, j.run + " · " + j.models.join(" vs ") + ": " + j.verdict));
          box.appendChild(folded(j.reply));
          jc.appendChild(box);
        });
        tr.appendChild(jc);
      }
      table.appendChild(tr);
    });
    holder.appendChild(table);
  }
  buildControls();
  draw();
  document.body.setAttribute("data-ready", "1");
})();
"""
