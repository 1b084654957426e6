#pragma once
// Dense linear assignment (rectangular, +inf = forbidden pair) by shortest augmenting paths on the dual
// (Jonker–Volgenant style, in the rectangular form of Crouse 2016), warm-started by row/column reduction.
#include <cstdint>
#include <vector>

namespace udmt::lsap {

enum class Status { ok = 0, infeasible = 1, invalid = 2 };  // invalid: NaN or -inf in the costs

// Reusable per-thread buffers, so that batches of small problems do not allocate per matrix.
struct Workspace {
  std::vector<double> u, v, path_cost, transposed;
  std::vector<std::int64_t> path, col4row, row4col, remaining;
  std::vector<char> row_seen, col_seen;
};

// Solves one n × m problem (row-major). Writes k = min(n, m) pairs, rows ascending, into rows/cols.
Status solve(const double* cost, std::int64_t n, std::int64_t m, std::int64_t* rows, std::int64_t* cols,
             Workspace& ws);

// B problems of n × m, OpenMP over the batch. Returns the first failing index (or -1) and its status.
std::int64_t solve_batch(const double* costs, std::int64_t batch, std::int64_t n, std::int64_t m, std::int64_t* rows,
                         std::int64_t* cols, Status* status);

}  // namespace udmt::lsap
