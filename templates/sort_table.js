// Click a column header to sort the submissions by it; click again to reverse. The rows
// arrive sorted by overall grade, so without JavaScript the table still reads sensibly.
// Each cell carries its sort key in data-sort: numbers compare as numbers, text as text.
(function () {
  "use strict";
  var table = document.getElementById("submissions");
  if (!table) { return; }
  var headers = table.tHead.rows[0].cells;
  var body = table.tBodies[0];

  function key(row, column, numeric) {
    var raw = row.cells[column].getAttribute("data-sort") || "";
    if (!numeric) { return raw.toLowerCase(); }
    var number = parseFloat(raw);
    return isNaN(number) ? -Infinity : number;  // not scored sorts below every score
  }

  function sortBy(column) {
    var header = headers[column];
    var numeric = header.getAttribute("data-type") === "number";
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a, column, numeric), y = key(b, column, numeric);
      var order = numeric ? (x < y ? -1 : x > y ? 1 : 0) : x.localeCompare(y);
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    for (var i = 0; i < headers.length; i++) { headers[i].removeAttribute("aria-sort"); }
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }

  // Turn each header's label into a button: only when the script runs is the table sortable.
  Array.prototype.forEach.call(headers, function (header, column) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    while (header.firstChild) { button.appendChild(header.firstChild); }
    header.appendChild(button);
    button.addEventListener("click", function () { sortBy(column); });
  });
})();
