// Side by side: tick two submissions in the table to compare their criteria, tasks and
// critical flags (a third tick replaces the oldest). The rows' figures come from the
// JSON block #compare-data (summary.json's rows, cut down by grader/report/compare.py);
// every value is written as text (textContent), never as markup.
(function () {
  "use strict";
  var source = document.getElementById("compare-data");
  var out = document.getElementById("compare-view");
  if (!source || !out) { return; }
  var data = JSON.parse(source.textContent);
  var boxes = Array.prototype.slice.call(document.querySelectorAll("input.compare"));
  var chosen = [];

  function cell(tag, text, className) {
    var element = document.createElement(tag);
    element.textContent = text;
    if (className) { element.className = className; }
    return element;
  }

  function line(label, values, classes) {
    var row = document.createElement("tr");
    row.appendChild(cell("th", label)).setAttribute("scope", "row");
    values.forEach(function (value, i) { row.appendChild(cell("td", value, classes ? classes[i] : "")); });
    return row;
  }

  function render() {
    out.textContent = "";
    document.getElementById("compare-hint").hidden = chosen.length === 2;
    if (chosen.length !== 2) { return; }
    var pair = chosen.map(function (i) { return data.rows[i]; });
    var table = document.createElement("table");
    table.id = "compare-table";
    var head = document.createElement("tr");
    head.appendChild(cell("th", ""));
    pair.forEach(function (row) { head.appendChild(cell("th", row.name)).setAttribute("scope", "col"); });
    table.appendChild(document.createElement("thead")).appendChild(head);
    var body = table.appendChild(document.createElement("tbody"));
    body.appendChild(line("Overall", pair.map(function (r) { return r.overall; })));
    data.criteria.forEach(function (name) {
      body.appendChild(line(name, pair.map(function (r) { return r.criteria[name]; })));
    });
    data.tasks.forEach(function (task) {
      var counts = pair.map(function (r) { return r.tasks[task] || null; });
      body.appendChild(line(task,
        counts.map(function (c) { return c ? c.label + " (" + c.status + ")" : "—"; }),
        counts.map(function (c) { return c ? "task " + c.status : "task"; })));
    });
    body.appendChild(line("Critical flags", pair.map(function (r) { return r.flags.join("; ") || "none"; })));
    body.appendChild(line("Verdict", pair.map(function (r) { return r.verdict; }), ["verdict", "verdict"]));
    out.appendChild(table);
  }

  boxes.forEach(function (box) {
    box.addEventListener("change", function () {
      var index = parseInt(box.value, 10);
      chosen = chosen.filter(function (i) { return i !== index; });
      if (box.checked) { chosen.push(index); }
      while (chosen.length > 2) {
        var dropped = chosen.shift();
        boxes.forEach(function (b) { if (parseInt(b.value, 10) === dropped) { b.checked = false; } });
      }
      render();
    });
  });
  document.getElementById("compare").hidden = false;
})();
