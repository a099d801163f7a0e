// The order requests reached this process: two arrivals in one millisecond are still ordered,
// where the clock (milliseconds, and frozen in tests) cannot tell them apart.

let arrived = 0;

/** Counts one arrival and returns its place in the order (1, 2, 3, …). */
export function stampArrival(): number {
  arrived += 1;
  return arrived;
}

/** How many requests have arrived so far: every one stamped from now on comes after. */
export function arrivalsSoFar(): number {
  return arrived;
}
