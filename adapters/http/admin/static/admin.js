// The console's little behaviours: confirm before a destructive button, and refresh while documents index.
(function () {
  'use strict';
  document.addEventListener('submit', function (event) {
    var button = event.submitter || event.target.querySelector('[data-confirm]');
    var question = button && button.getAttribute('data-confirm');
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
  var refreshing = document.querySelector('[data-refresh]');
  if (refreshing) {
    var seconds = parseInt(refreshing.getAttribute('data-refresh'), 10) || 3;
    window.setTimeout(function () { window.location.reload(); }, seconds * 1000);
  }
})();
