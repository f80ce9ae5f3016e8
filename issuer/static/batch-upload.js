// Upload a school batch with a progress bar; the server answers with the batch report page.
// A file of its own: the pages' Content-Security-Policy runs no inline script.
"use strict";
(function () {
  var form = document.getElementById("batch-form");
  if (!form) { return; }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var bar = document.getElementById("batch-progress"), request = new XMLHttpRequest();
    bar.hidden = false;
    request.upload.onprogress = function (e) { if (e.lengthComputable) { bar.value = 100 * e.loaded / e.total; } };
    request.onload = function () { document.open(); document.write(request.responseText); document.close(); };
    request.open("POST", form.action);
    request.send(new FormData(form));
  });
})();
