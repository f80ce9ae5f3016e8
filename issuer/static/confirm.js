// A form with data-confirm="question" is sent only once the person confirms it.
// A file of its own: the pages' Content-Security-Policy runs no inline handler (onsubmit=...).
"use strict";
document.addEventListener("submit", function (event) {
  var question = event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) { event.preventDefault(); }
});
