// The compare table: click a header to sort (again to reverse), type to filter rows. No markup is built.
(function () {
  "use strict";
  const table = document.getElementById("compare-table");
  if (!table) return;
  const body = table.tBodies[0];
  const headers = Array.from(table.tHead.rows[0].cells);
  let sorted = -1, ascending = true;
  function key(row, i, type) {
    const cell = row.cells[i];
    if (type === "number") {
      const v = parseFloat(cell.dataset.value);
      return Number.isNaN(v) ? Infinity : v;
    }
    return cell.textContent.trim().toLowerCase();
  }
  headers.forEach((th, i) => {
    th.tabIndex = 0;
    th.addEventListener("click", () => {
      ascending = sorted === i ? !ascending : true;
      sorted = i;
      const type = th.dataset.type;
      const rows = Array.from(body.rows);
      rows.sort((a, b) => {
        const x = key(a, i, type), y = key(b, i, type);
        return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
      });
      body.append(...rows);
      headers.forEach((h) => h.removeAttribute("aria-sort"));
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    });
  });
  const filter = document.getElementById("compare-filter");
  filter.addEventListener("input", () => {
    const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    for (const row of body.rows) {
      const text = row.textContent.toLowerCase();
      row.hidden = !words.every((w) => text.includes(w));
    }
  });
})();
