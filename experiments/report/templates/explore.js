/* The explorable lessons of a page (experiments/explore.py): each slider position picks one
   stored setting, computed on NumPy and on PyTorch when the report was built; this draws its
   lines (NumPy wide and pale, PyTorch thin and dashed, as the figures), its parity and the
   claims' verdicts. No library, no request: the data is in the page. */
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];
  var W = 640, H = 400, M = {left: 64, right: 16, top: 12, bottom: 44};

  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    for (var k in attrs) node.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(node);
    return node;
  }

  function ticks(lo, hi, log) {
    if (log) {
      var out = [];
      for (var e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
        var v = Math.pow(10, e);
        [1, 2, 5].forEach(function (m) {
          if (m * v >= lo * 0.999 && m * v <= hi * 1.001) out.push(m * v);
        });
      }
      // a range of a decade or two: 1, 2 and 5 of each; a wider one: the powers of ten
      return out.length > 7 ? out.filter(function (v) {
        return Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9;
      }) : out;
    }
    var step = Math.pow(10, Math.floor(Math.log10((hi - lo) / 5 || 1)));
    var n = (hi - lo) / step;
    step *= n > 40 ? 10 : n > 20 ? 5 : n > 8 ? 2 : 1;
    var values = [];
    for (var t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
      values.push(Math.abs(t) < step * 1e-9 ? 0 : t);
    }
    return values;
  }

  function label(v) {
    var a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(0) : String(+v.toPrecision(4));
  }

  function extent(lesson, point) {
    if (lesson.view) return lesson.view;
    var x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    point.lines.forEach(function (line) {
      line.y.forEach(function (y, i) {
        var x = line.x ? line.x[i] : i + 1;
        if (y === null || x === null || (lesson.logY && y <= 0)) return;
        x0 = Math.min(x0, x); x1 = Math.max(x1, x);
        y0 = Math.min(y0, y); y1 = Math.max(y1, y);
      });
    });
    if (!isFinite(x0)) return [0, 1, 0, 1];
    if (lesson.steps || (!lesson.logY && y0 > 0 && y0 < 0.5 * y1)) y0 = Math.min(y0, 0);
    if (y0 === y1) { y0 -= 0.5; y1 += 0.5; }
    if (x0 === x1) { x1 = x0 + 1; }
    if (lesson.logY) {                  // a margin, so that no line runs along the frame
      var pad = Math.pow(y1 / y0, 0.04);
      y0 /= pad; y1 *= pad;
    } else {
      var margin = 0.04 * (y1 - y0);
      y1 += margin;
      if (y0 !== 0) y0 -= margin;
    }
    return [x0, x1, y0, y1];
  }

  function draw(section, lesson, point) {
    var svg = section.querySelector("svg.explore-plot");
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var box = extent(lesson, point), log = lesson.logY;
    var fy = log ? Math.log10 : function (v) { return v; };
    var ya = fy(box[2]), yb = fy(box[3]);
    var PW = W - M.left - M.right, PH = H - M.top - M.bottom;
    var sx = function (x) { return M.left + (x - box[0]) / (box[1] - box[0]) * PW; };
    var sy = function (y) { return H - M.bottom - (fy(y) - ya) / (yb - ya) * PH; };
    var id = section.id + "-clip";
    el("rect", {x: M.left, y: M.top, width: PW, height: PH},
       el("clipPath", {id: id}, el("defs", {}, svg)));
    el("rect", {x: M.left, y: M.top, width: PW, height: PH, fill: "none", stroke: "#888"}, svg);
    ticks(box[0], box[1], false).forEach(function (t) {
      el("line", {x1: sx(t), x2: sx(t), y1: H - M.bottom, y2: H - M.bottom + 5, stroke: "#888"},
         svg);
      el("text", {x: sx(t), y: H - M.bottom + 18, "text-anchor": "middle"}, svg)
        .textContent = label(t);
    });
    ticks(box[2], box[3], log).forEach(function (t) {
      el("line", {x1: M.left - 5, x2: M.left, y1: sy(t), y2: sy(t), stroke: "#888"}, svg);
      el("text", {x: M.left - 8, y: sy(t) + 4, "text-anchor": "end"}, svg)
        .textContent = label(t);
    });
    var middle = (M.top + H - M.bottom) / 2;
    el("text", {x: M.left + PW / 2, y: H - 6, "text-anchor": "middle"}, svg)
      .textContent = lesson.xLabel;
    el("text", {x: 14, y: middle, "text-anchor": "middle",
                transform: "rotate(-90 14 " + middle + ")"}, svg).textContent = lesson.yLabel;
    var plot = el("g", {"clip-path": "url(#" + id + ")"}, svg);
    point.lines.forEach(function (line) {
      var xy = [];
      line.y.forEach(function (y, i) {
        var x = line.x ? line.x[i] : i + 1;
        if (y === null || x === null || (log && y <= 0)) return;
        if (lesson.steps && xy.length) {      // a histogram: across, then up or down
          xy.push(xy[xy.length - 1].split(",")[0] + "," + sy(y).toFixed(2));
        }
        xy.push(sx(x).toFixed(2) + "," + sy(y).toFixed(2));
      });
      var numpy = line.backend === "numpy";
      var node = el("polyline", {points: xy.join(" "), fill: "none",
                                 stroke: COLORS[line.color % COLORS.length],
                                 "stroke-width": numpy ? 5 : 1.5,
                                 "stroke-opacity": numpy ? 0.35 : 1,
                                 "stroke-dasharray": numpy ? "" : "5 3"}, plot);
      node.setAttribute("data-backend", line.backend);
      node.setAttribute("data-label", line.label);
      node.setAttribute("data-y", JSON.stringify(line.y));
      node.setAttribute("data-x", JSON.stringify(line.x));
    });
  }

  function show(section, lesson) {
    var inputs = section.querySelectorAll("input.explore-slider");
    var index = 0;
    for (var i = 0; i < inputs.length; i++) {
      var at = +inputs[i].value;
      index = index * lesson.sliders[i].values.length + at;
      section.querySelectorAll("output.explore-value")[i].textContent =
        lesson.sliders[i].values[at];
    }
    var point = lesson.points[index];
    section.setAttribute("data-point", index);
    var stopped = section.querySelector(".explore-stopped");
    stopped.textContent = point.stopped || "";
    stopped.hidden = !point.stopped;
    draw(section, lesson, point.stopped ? {lines: []} : point);
    var legend = section.querySelector(".explore-legend");
    legend.textContent = "";
    (point.lines || []).forEach(function (line) {
      if (line.backend !== "numpy") return;
      var item = document.createElement("li");
      var swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = COLORS[line.color % COLORS.length];
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(line.label));
      legend.appendChild(item);
    });
    section.querySelector(".explore-parity").textContent = point.parity ? point.parity.text : "";
    var claims = section.querySelector(".explore-claims");
    claims.textContent = "";
    (point.findings || []).forEach(function (f) {
      var item = document.createElement("li");
      var mark = document.createElement("strong");
      mark.textContent = f.mark + " ";
      item.appendChild(mark);
      item.appendChild(document.createTextNode(f.claim + " — " + f.measured));
      claims.appendChild(item);
    });
  }

  var sections = document.querySelectorAll("section.explore");
  for (var s = 0; s < sections.length; s++) {
    (function (section) {
      var lesson = JSON.parse(section.querySelector("script.explore-data").textContent);
      section.querySelector(".explore-ui").hidden = false;
      section.querySelectorAll("input.explore-slider").forEach(function (input) {
        input.addEventListener("input", function () { show(section, lesson); });
      });
      show(section, lesson);
    })(sections[s]);
  }
})();
