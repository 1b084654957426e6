#pragma once
// Square assignment problems of n <= 16 (one tracker frame's identities), solved with the whole state in AVX2
// registers: Jonker–Volgenant column reduction, then one dense Dijkstra per free row over four-wide vectors of
// columns. Row duals are implicit (u_i = c[i, col(i)] − v[col(i)], as in LAPJV), so a search step is one
// vector pass over a row plus a horizontal minimum; there are no per-column branches and +inf needs no case.
//
// A 10×10 problem costs about 1.7k instructions this way against 4.4k in the general solver (callgrind, 10,000
// uniform random problems). Only built for x86-64 with GCC/Clang; elsewhere, or on a CPU without AVX2,
// `available()` is false and the general solver runs.
#include <cstdint>

#include "assignment.hpp"

namespace udmt::lsap::small {

constexpr int kMaxN = 16;

// True when this build and CPU can run solve() (checked once).
bool available();

// Solves the n × n problem (row-major, 1 <= n <= kMaxN): cols[i] is row i's column. Same statuses as
// lsap::solve.
Status solve(const double* cost, int n, std::int64_t* cols);

}  // namespace udmt::lsap::small
