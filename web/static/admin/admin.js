// leadbridge admin console: a little progressive enhancement. Every page
// works without it; with it, times are shown in the viewer's time zone.
(function () {
  "use strict";
  var fmt;
  try {
    fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  } catch (e) {
    return; // an old browser keeps the UTC times the server wrote
  }
  var times = document.querySelectorAll("time[datetime]");
  for (var i = 0; i < times.length; i++) {
    var t = times[i];
    var d = new Date(t.getAttribute("datetime"));
    if (isNaN(d.getTime())) continue;
    t.title = t.textContent; // the UTC time stays on hover
    t.textContent = fmt.format(d);
    t.dataset.local = "1";
  }
})();
