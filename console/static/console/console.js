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
