// Adding a dish to a tab. The bar over the product grid says where a tap goes: its course (1-5: "Entrada",
// "Fondo", "Postre"...), whether it is held until the course is fired ("Retener"), and "Con detalle" to
// open the item sheet for the next dish. A dish with modifiers always opens the sheet: its modifier groups
// (chips, priced), a note (typed or a common one), the course, the quantity and the hold.
import { $, h } from "/till/ui.js";

const MAX_UNITS = 99;

export function createItemSheet(app, r) {
  const { t, money, overlays } = app;
  const sheet = $("item-sheet");
  const note = $("item-note");
  const bar = { course: 1, hold: false, detail: false };
  let item = null; // {product, modifiers, chosen: Set, course, hold, units}
  let busy = false;

  // -- the bar over the grid ----------------------------------------------------------------------------

  function renderBar() {
    $("course-bar-courses").replaceChildren(
      ...r.courses.map((course) =>
        h("button", {
          type: "button",
          class: "method course" + (course === bar.course ? " active" : ""),
          "data-course": course,
          "aria-pressed": course === bar.course ? "true" : "false",
          text: r.courseName(course),
          onclick: () => {
            bar.course = course;
            renderBar();
          },
        }),
      ),
    );
    toggle($("course-bar-hold"), bar.hold);
    toggle($("course-bar-detail"), bar.detail);
  }

  function toggle(button, on) {
    button.classList.toggle("active", on);
    button.setAttribute("aria-pressed", on ? "true" : "false");
  }

  $("course-bar-hold").addEventListener("click", () => {
    bar.hold = !bar.hold;
    renderBar();
  });
  $("course-bar-detail").addEventListener("click", () => {
    bar.detail = !bar.detail;
    renderBar();
  });

  // -- the sheet -------------------------------------------------------------------------------------------

  function unitPrice() {
    let price = item.product.price;
    for (const modifier of item.modifiers) if (item.chosen.has(modifier.id)) price += modifier.price_delta;
    return Math.max(0, price);
  }

  function deltaText(delta) {
    if (!delta) return "";
    return delta > 0 ? t("item.delta_plus", { amount: money.format(delta) }) : t("item.delta_minus", { amount: money.format(-delta) });
  }

  function renderGroups() {
    const groups = new Map();
    for (const modifier of item.modifiers) {
      if (!groups.has(modifier.group)) groups.set(modifier.group, []);
      groups.get(modifier.group).push(modifier);
    }
    $("item-groups").replaceChildren(
      ...[...groups].map(([group, options]) =>
        h(
          "div",
          { class: "item-group", "data-group": group },
          h("p", { class: "label", text: group }),
          h(
            "div",
            { class: "chips" },
            options.map((modifier) => {
              const on = item.chosen.has(modifier.id);
              return h(
                "button",
                {
                  type: "button",
                  class: "method modifier" + (on ? " active" : ""),
                  "data-modifier": modifier.id,
                  "aria-pressed": on ? "true" : "false",
                  onclick: () => {
                    if (item.chosen.has(modifier.id)) item.chosen.delete(modifier.id);
                    else item.chosen.add(modifier.id);
                    render();
                  },
                },
                h("span", { text: modifier.name }),
                modifier.price_delta ? h("small", { class: "delta", text: deltaText(modifier.price_delta) }) : null,
              );
            }),
          ),
        ),
      ),
    );
  }

  function render() {
    $("item-name").textContent = item.product.name;
    $("item-price").textContent = money.format(unitPrice() * item.units);
    renderGroups();
    $("item-courses").replaceChildren(
      ...r.courses.map((course) =>
        h("button", {
          type: "button",
          class: "method course" + (course === item.course ? " active" : ""),
          "data-course": course,
          "aria-pressed": course === item.course ? "true" : "false",
          text: r.courseName(course),
          onclick: () => {
            item.course = course;
            render();
          },
        }),
      ),
    );
    $("item-qty").textContent = String(item.units);
    $("item-minus").disabled = item.units <= 1;
    toggle($("item-hold"), item.hold);
    const add = $("item-add");
    add.disabled = busy;
    add.textContent = t(item.hold ? "item.add_held" : "item.add", { amount: money.format(unitPrice() * item.units) });
  }

  function open(product) {
    item = {
      product,
      modifiers: r.modifiersOf(product.id),
      chosen: new Set(),
      course: bar.course,
      hold: bar.hold,
      units: 1,
    };
    note.value = "";
    $("item-error").textContent = "";
    render();
    overlays.open(sheet, {
      onKey(key) {
        if (key === "Enter") submit();
        else if (key === "Escape") close();
        else return false;
        return true;
      },
    });
  }

  function close() {
    if (busy) return;
    item = null;
    overlays.close(sheet);
    if (bar.detail) {
      bar.detail = false; // "Con detalle" is for one dish
      renderBar();
    }
  }

  async function submit() {
    if (!item || busy) return;
    busy = true;
    render();
    const payload = {
      product_id: item.product.id,
      quantity: item.units * 1000,
      modifier_ids: item.modifiers.filter((m) => item.chosen.has(m.id)).map((m) => m.id),
      note: note.value.trim().slice(0, 200),
      course: item.course,
      hold: item.hold,
    };
    try {
      await r.tab.add(payload, { quiet: true });
      busy = false;
      close();
    } catch (err) {
      $("item-error").textContent = app.errorText(err);
    } finally {
      busy = false;
      if (item) render();
    }
  }

  for (const text of app.messages.list("item.notes")) {
    $("item-note-chips").append(
      h("button", {
        type: "button",
        class: "secondary chip-button",
        "data-note": text,
        text,
        onclick: () => {
          const current = note.value.trim();
          note.value = current ? current + ", " + text : text;
        },
      }),
    );
  }
  note.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      submit();
    }
  });
  $("item-minus").addEventListener("click", () => {
    item.units = Math.max(1, item.units - 1);
    render();
  });
  $("item-plus").addEventListener("click", () => {
    item.units = Math.min(MAX_UNITS, item.units + 1);
    render();
  });
  $("item-hold").addEventListener("click", () => {
    item.hold = !item.hold;
    render();
  });
  $("item-add").addEventListener("click", submit);
  $("item-cancel").addEventListener("click", close);
  renderBar();

  return {
    /** A dish tapped: straight onto the tab with the bar's course and hold, or through the sheet. */
    choose(product) {
      if (bar.detail || r.modifiersOf(product.id).length) {
        open(product);
        return;
      }
      r.tab.add({ product_id: product.id, quantity: 1000, course: bar.course, hold: bar.hold }).catch(() => {});
    },
    /** The course and hold a scanned code goes with. */
    get defaults() {
      return { course: bar.course, hold: bar.hold };
    },
    reset() {
      bar.course = 1;
      bar.hold = false;
      bar.detail = false;
      renderBar();
    },
  };
}
