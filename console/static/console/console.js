// Gatekeep console: the few enhancements htmx does not cover. Every page works without it.
document.documentElement.classList.add("js");

// Copy buttons: <button data-copy="#element-id"> copies that element's value or text.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var source = document.querySelector(button.getAttribute("data-copy"));
  if (!source) return;
  var text = "value" in source ? source.value : source.textContent;
  var done = function () {
    var label = button.textContent;
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = label; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text.trim()).then(done);
  } else if (source.select) {
    source.select();
    document.execCommand("copy");
    done();
  }
});

// Key/value rows: the x button removes its row (clearing a row does the same without JS).
document.addEventListener("click", function (event) {
  var remove = event.target.closest("[data-remove-row]");
  if (remove) remove.closest(".kv-row").remove();
});

// Collapsible sidebar (templates/console/base.html): remembered per browser. Without JS
// the toggle is hidden and the sidebar stays open.
(function () {
  var root = document.documentElement;
  var KEY = "gatekeep.sidebar";
  var stored = null;
  try { stored = window.localStorage.getItem(KEY); } catch (e) { /* private mode */ }
  // Narrow screens start with the menu folded unless the person opened it.
  var collapsed = stored ? stored === "collapsed" : window.matchMedia("(max-width: 900px)").matches;
  function apply() {
    root.classList.toggle("sidebar-collapsed", collapsed);
    document.querySelectorAll("[data-sidebar-toggle]").forEach(function (button) {
      button.setAttribute("aria-expanded", collapsed ? "false" : "true");
      var text = button.querySelector(".sidebar-toggle-text");
      if (text) text.textContent = collapsed ? "Menu" : "Hide menu";
    });
  }
  document.addEventListener("DOMContentLoaded", apply);
  if (document.readyState !== "loading") apply();
  document.addEventListener("click", function (event) {
    if (!event.target.closest("[data-sidebar-toggle]")) return;
    collapsed = !collapsed;
    try { window.localStorage.setItem(KEY, collapsed ? "collapsed" : "open"); } catch (e) { /* ignore */ }
    apply();
  });
})();

// "Tick every row on this page" (the API list's bulk actions); without JS, tick each row.
document.addEventListener("change", function (event) {
  var all = event.target.closest("[data-select-all]");
  if (!all) return;
  var name = all.getAttribute("data-select-all");
  all.closest("form").querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (box) {
    box.checked = all.checked;
  });
});
