/**
 * Size of the degree table. A node of degree k roots at least F(k+2) >= phi^k nodes, so
 * with at most 2^53 nodes no degree exceeds log_phi(2^53) < 77.
 */
export const MAX_DEGREE = 80
