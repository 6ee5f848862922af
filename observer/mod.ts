/**
 * The observer member's public surface: the time-machine record format and the contracts that
 * come with it (error-fold kinds, severities, the options a replay folds with), for anyone
 * replaying its history. Network-free: the oracle imports it.
 */

export * from "./fold_kind.ts";
export * from "./fold_options.ts";
export * from "./record_format.ts";
export * from "./queue_series.ts";
