// The bank's reference data for the scenario: twenty customer accounts, the two internal accounts
// that make double entry balance, and the ones the scenario treats specially. Amounts in cents.

/** Money in flight between a transfer's debit and its credit (or reversal) sits here. */
export const CLEARING = "clearing";
/** Where opening balances come from: it goes negative by exactly what the customers hold. */
export const FUNDING = "funding";

/** acc-01 … acc-20. */
export const CUSTOMERS: readonly string[] = Array.from(
  { length: 20 },
  (_, i) => `acc-${String(i + 1).padStart(2, "0")}`,
);
/** Opening balance of every customer but {@link NEARLY_EMPTY}. */
export const OPENING_CENTS = 250_000;

/** On the sanctions list: compliance rejects every transfer from or to it. */
export const FLAGGED = "acc-13";
/** Closed: the ledger refuses credits to it, so transfers to it are reversed after their debit. */
export const CLOSED = "acc-17";
/** Opens with little money and receives none, so most transfers from it lack funds. */
export const NEARLY_EMPTY = "acc-20";
export const NEARLY_EMPTY_CENTS = 3_000;

/** Compliance rejects a single transfer above this. */
export const LIMIT_CENTS = 1_000_000;
/** Above this, compliance takes its time (enhanced due diligence). */
export const REVIEW_CENTS = 40_000;
