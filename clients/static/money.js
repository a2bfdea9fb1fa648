// Money and quantities as the hub sends them: integers. Money in minor units of the tenant's currency
// (CLP has none, USD has cents); quantities in thousandths of the unit (1 kg = 1000, 1 unit = 1000).
"use strict";

const COUNTRY_CURRENCY = { CL: "CLP", EC: "USD" };

/** The tenant's currency from /api/v1/auth/me: its own field, else its country's. */
export function currencyOf(tenant) {
  return (tenant && (tenant.currency || COUNTRY_CURRENCY[tenant.country])) || "CLP";
}

const CURRENCIES = {
  CLP: { symbol: "$", decimals: 0, group: ".", point: "," },
  USD: { symbol: "$", decimals: 2, group: ",", point: "." },
};

function groupDigits(digits, separator) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, separator);
}

export class Money {
  constructor(currency) {
    this.currency = currency in CURRENCIES ? currency : "CLP";
    const spec = CURRENCIES[this.currency];
    this.symbol = spec.symbol;
    this.decimals = spec.decimals;
    this.group = spec.group;
    this.point = spec.point;
    this.factor = 10 ** spec.decimals;
  }

  /** 1234 (CLP) -> "$1.234"; 1234 (USD cents) -> "$12.34"; negatives get a leading minus. */
  format(minor) {
    const value = Math.round(Number(minor) || 0);
    const sign = value < 0 ? "-" : "";
    const abs = Math.abs(value);
    const whole = groupDigits(String(Math.floor(abs / this.factor)), this.group);
    if (!this.decimals) return sign + this.symbol + whole;
    const cents = String(abs % this.factor).padStart(this.decimals, "0");
    return sign + this.symbol + whole + this.point + cents;
  }

  /** Keypad text ("12.5" or "12,5" in USD, "1500" in CLP) -> minor units, or null if it is not an amount. */
  parse(text) {
    const clean = String(text || "").trim().replace(",", ".");
    if (!clean) return null;
    if (!/^\d{0,12}(\.\d*)?$/.test(clean)) return null;
    const [whole, frac = ""] = clean.split(".");
    if (frac.length > this.decimals) return null;
    return Number(whole || "0") * this.factor + Number((frac + "000").slice(0, this.decimals) || "0");
  }

  /** Whole units (bills) -> minor units: 1000 pesos, 20 dollars. */
  units(amount) {
    return amount * this.factor;
  }

  /**
   * What cash actually settles an amount. Chile (Ley 20.956): cash totals round to the nearest 10 pesos,
   * 1-5 down, 6-9 up. Only for suggesting amounts; the hub applies the rule and its receipt is the truth.
   */
  cashDue(minor) {
    if (this.currency !== "CLP") return minor;
    const rest = minor % 10;
    return rest <= 5 ? minor - rest : minor + (10 - rest);
  }
}

/** 523 g of a "kg" product -> "0,523 kg"; 2000 of a unit product -> "2". */
export function formatQuantity(quantity, unit, point, unitLabel) {
  const sep = point || ",";
  if (unit === "kg") {
    const text = (quantity / 1000).toFixed(3).replace(".", sep);
    return unitLabel ? text + " " + unitLabel : text;
  }
  if (quantity % 1000 === 0) return String(quantity / 1000);
  return (quantity / 1000).toFixed(3).replace(".", sep).replace(/0+$/, "");
}
