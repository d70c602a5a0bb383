// In-page confirmation for actions that stop or end work (pause, cancel): a question inside the form with two
// buttons. The browser's confirm() (htmx's hx-confirm) is dismissed without a word by automation and by browsers
// that suppress dialogs, and it cannot be read by a screen reader in the page's flow.
(function () {
  "use strict";

  document.addEventListener("htmx:confirm", function (event) {
    var form = event.detail.elt;
    var question = form && form.getAttribute ? form.getAttribute("data-confirm") : null;
    if (!question) return; // polling and every other request go ahead as usual
    event.preventDefault();
    if (form.querySelector(".confirm-panel")) return; // already asking

    var panel = document.createElement("div");
    panel.className = "confirm-panel";
    panel.setAttribute("role", "alertdialog");
    var text = document.createElement("p");
    text.id = form.id ? form.id + "-question" : "";
    text.textContent = question;
    if (text.id) panel.setAttribute("aria-describedby", text.id);
    var yes = document.createElement("button");
    yes.type = "button";
    yes.className = "danger";
    yes.textContent = form.getAttribute("data-confirm-yes") || "Yes";
    var no = document.createElement("button");
    no.type = "button";
    no.textContent = form.getAttribute("data-confirm-no") || "No, go back";
    panel.appendChild(text);
    panel.appendChild(yes);
    panel.appendChild(no);
    form.appendChild(panel);

    var submit = form.querySelector('button[type="submit"]');
    if (submit) submit.disabled = true;
    function close() {
      panel.remove();
      if (submit) submit.disabled = false;
    }
    yes.addEventListener("click", function () {
      close();
      event.detail.issueRequest(true); // true: asked already, do not ask again
    });
    no.addEventListener("click", function () {
      close();
      if (submit) submit.focus();
    });
    yes.focus();
  });
})();
