// Request pages: the pod picker's "Add" buttons, and attempt logs that stay open while the page refreshes itself.
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-add-target]");
    if (!button) return;
    var list = document.getElementById("id_targets");
    if (!list) return;
    var value = button.getAttribute("data-add-target");
    var lines = list.value.split("\n").map(function (line) { return line.trim(); }).filter(Boolean);
    if (lines.indexOf(value) === -1) lines.push(value);
    list.value = lines.join("\n") + "\n";
    var pods = document.querySelector('input[name="kind"][value="pods"]');
    if (pods) pods.checked = true;
    button.textContent = "Added";
  });

  // htmx replaces the live part every 2 s; remember which <details> were open and reopen them.
  var open = [];
  document.addEventListener("htmx:beforeSwap", function () {
    open = Array.prototype.map.call(document.querySelectorAll("details[open][id]"), function (el) { return el.id; });
  });
  document.addEventListener("htmx:afterSettle", function () {
    open.forEach(function (id) {
      var details = document.getElementById(id);
      if (details) details.open = true;
    });
  });
})();
