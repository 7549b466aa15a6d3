export { canonicalModel, type CanonicalModel, type Tier } from './models.ts';
export type { PriceRow } from './price-row.ts';
export { BUILTIN_PRICES } from './builtin-prices.ts';
export { createPriceCatalog, type CostInput, type CostResult, type ModelInfo, type PriceCatalog } from './catalog.ts';
