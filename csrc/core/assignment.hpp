#pragma once
// Dense linear assignment (rectangular, +inf = forbidden pair) by shortest augmenting paths on the dual
// (Jonker–Volgenant style, in the rectangular form of Crouse 2016), warm-started by row/column reduction.
//
// One algorithm runs on raw views of its state. Problems with n, m <= kSmall keep that state (and the transpose
// of a tall matrix) on the stack, so that batches of tracker-sized matrices never touch the heap; larger ones
// use a reusable heap Workspace. Square problems with n <= 16 go to the register solver in assignment_small.hpp
// when the CPU has AVX2.
#include <cstdint>
#include <vector>

namespace udmt::lsap {

enum class Status { ok = 0, infeasible = 1, invalid = 2 };  // invalid: NaN or -inf in the costs

constexpr int kSmall = 32;

// Reusable heap buffers for problems larger than kSmall (grown, never shrunk).
struct Workspace {
  std::vector<double> duals, transposed;  // u (n), v (m), dist (m)
  std::vector<int> indices;               // path (m), col4row (n), row4col (m), remaining (m)
};

// Solves one n × m problem (row-major). Writes k = min(n, m) pairs, rows ascending, into rows/cols.
Status solve(const double* cost, std::int64_t n, std::int64_t m, std::int64_t* rows, std::int64_t* cols,
             Workspace& ws);

// B problems of n × m, OpenMP over the batch (static schedule). Returns the first failing index (or -1) and
// its status.
std::int64_t solve_batch(const double* costs, std::int64_t batch, std::int64_t n, std::int64_t m, std::int64_t* rows,
                         std::int64_t* cols, Status* status);

}  // namespace udmt::lsap
