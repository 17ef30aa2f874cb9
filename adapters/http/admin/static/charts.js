// Draws the usage page's charts with the vendored Chart.js (static/vendor/chart.umd.min.js, MIT) from the numbers
// the page carries in data-charts: no request of its own, nothing inline.
(function () {
  'use strict';
  var holder = document.getElementById('charts');
  if (!holder || !window.Chart) { return; }
  var data = JSON.parse(holder.getAttribute('data-charts') || '{}');
  var colours = ['#1f7a5a', '#3b6fb6', '#c77d1a', '#a23b72', '#5f6b7a', '#2a9d8f', '#e76f51'];
  holder.querySelectorAll('canvas[data-chart]').forEach(function (canvas) {
    var series = data[canvas.getAttribute('data-chart')] || {labels: [], sets: {}};
    var names = Object.keys(series.sets);
    if (!series.labels.length) {
      var empty = document.createElement('div');
      empty.className = 'chart-empty';
      empty.textContent = holder.getAttribute('data-empty');
      canvas.replaceWith(empty);
      return;
    }
    var line = canvas.getAttribute('data-kind') === 'line';
    var chart = new window.Chart(canvas, {
      type: line ? 'line' : 'bar',
      data: {
        labels: series.labels,
        datasets: names.map(function (name, i) {
          return {label: name, data: series.sets[name], backgroundColor: colours[i % colours.length],
                  borderColor: colours[i % colours.length], tension: 0.2};
        })
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        scales: {x: {stacked: !line}, y: {stacked: !line, beginAtZero: true}},
        plugins: {legend: {position: 'bottom'}}
      }
    });
    canvas.setAttribute('data-rendered', String(chart.data.datasets.length));
  });
})();
