
(function () {
  "use strict";
  function say(btn, text) {
    btn.textContent = text;
    window.setTimeout(function () { btn.textContent = "Copy"; }, 2000);
  }
  function byHand(btn, pre) {
    var ok = false;
    try {
      var range = document.createRange();
      range.selectNodeContents(pre);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      try { ok = !!(document.execCommand && document.execCommand("copy")); } catch (e) { ok = false; }
    } catch (e) { ok = false; }
    say(btn, ok ? "Copied" : "Selected: copy by hand");
  }
  document.addEventListener("click", function (ev) {
    var btn = ev.target && ev.target.closest ? ev.target.closest("button.copy") : null;
    if (!btn) { return; }
    var pre = document.getElementById(btn.getAttribute("data-target") || "");
    if (!pre) { return; }
    var text = pre.textContent;
    try {
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(
          function () { say(btn, "Copied"); },
          function () { byHand(btn, pre); });
        return;
      }
    } catch (e) { /* fall through */ }
    byHand(btn, pre);
  });
})();
