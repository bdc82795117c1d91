/** Number formats shared by the RPC tables. */
export const int = (n) => Math.round(n).toLocaleString('en-US');

export const fixed = (n, digits = 1) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

export const percent = (ratio) => `${(ratio * 100).toFixed(0)} %`;

export const times = (ratio) => (ratio >= 10 ? `${ratio.toFixed(0)}×` : `${ratio.toFixed(2)}×`);

/** `min–max` of the per-run calls/s, or the one run. */
export const spread = (runs) => (runs.length > 1 ? `${int(Math.min(...runs))}–${int(Math.max(...runs))}` : int(runs[0]));
