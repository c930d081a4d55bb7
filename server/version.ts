/** The version printed by `easegress --version`. */
export const VERSION = "0.1.0";
