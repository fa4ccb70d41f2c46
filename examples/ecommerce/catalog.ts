// What the shop sells (prices in cents, owned by orders) and what the warehouse starts with
// (owned by inventory). The lamp is scarce on purpose: the scenario orders more than there are.
export const PRICES: Readonly<Record<string, number>> = { tea: 450, mug: 1200, lamp: 4900 };

export const INITIAL_STOCK: Readonly<Record<string, number>> = { tea: 1000, mug: 1000, lamp: 3 };
