#include "assignment.hpp"

#include <algorithm>
#include <limits>
#include <utility>

namespace udmt::lsap {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Dijkstra over reduced costs from the free row `start` to the nearest free column. Returns that column, or -1
// when every remaining column is forbidden (the problem is infeasible); min_val is the path's reduced cost.
std::int64_t shortest_path(const double* cost, std::int64_t m, std::int64_t start, Workspace& ws, double& min_val) {
  double* const u = ws.u.data();
  double* const v = ws.v.data();
  double* const dist = ws.path_cost.data();
  std::int64_t* const remaining = ws.remaining.data();
  std::fill(ws.path_cost.begin(), ws.path_cost.end(), kInf);
  std::fill(ws.row_seen.begin(), ws.row_seen.end(), 0);
  std::fill(ws.col_seen.begin(), ws.col_seen.end(), 0);
  for (std::int64_t j = 0; j < m; ++j) remaining[j] = j;
  std::int64_t n_remaining = m, i = start, sink = -1;
  min_val = 0.0;
  while (sink == -1) {
    ws.row_seen[i] = 1;
    const double* row = cost + i * m;
    const double ui = u[i];
    std::int64_t index = -1;
    double lowest = kInf;
    // Branch-free scan (conditional moves): the comparisons are unpredictable and dominate small problems.
    for (std::int64_t it = 0; it < n_remaining; ++it) {
      const std::int64_t j = remaining[it];
      const double r = min_val + row[j] - ui - v[j];
      const bool shorter = r < dist[j];
      ws.path[j] = shorter ? i : ws.path[j];
      const double d = shorter ? r : dist[j];
      dist[j] = d;
      // Among equal distances prefer a free column: the search ends sooner.
      const bool take = d < lowest || (d == lowest && ws.row4col[j] == -1);
      lowest = take ? d : lowest;
      index = take ? it : index;
    }
    if (index < 0 || lowest == kInf) return -1;
    min_val = lowest;
    const std::int64_t j = remaining[index];
    if (ws.row4col[j] == -1) {
      sink = j;
    } else {
      i = ws.row4col[j];
    }
    ws.col_seen[j] = 1;
    remaining[index] = remaining[--n_remaining];
  }
  return sink;
}

// n <= m. On success col4row/row4col hold an optimal assignment of every row.
Status solve_wide(const double* cost, std::int64_t n, std::int64_t m, Workspace& ws) {
  ws.u.assign(n, 0.0);
  ws.v.assign(m, 0.0);
  ws.path_cost.assign(m, kInf);
  ws.path.assign(m, -1);
  ws.col4row.assign(n, -1);
  ws.row4col.assign(m, -1);
  ws.remaining.assign(m, 0);
  ws.row_seen.assign(n, 0);
  ws.col_seen.assign(m, 0);
  // Warm start (Hungarian initialisation): u = row minima, and for a square problem v = column minima of the
  // row-reduced costs. Both keep the duals feasible (v may only be non-zero on columns that end up assigned,
  // which all columns are when n == m). Rows then take a free column on a tight edge, leaving fewer rows for
  // the augmenting searches.
  // One pass checks the entries and takes row minima (the O(n m) passes dominate small problems).
  bool invalid = false, empty_row = false;
  for (std::int64_t i = 0; i < n; ++i) {
    const double* row = cost + i * m;
    double low = kInf;
    for (std::int64_t j = 0; j < m; ++j) {
      invalid |= !(row[j] > -kInf);  // NaN or -inf
      low = row[j] < low ? row[j] : low;
    }
    ws.u[i] = low;
    empty_row |= low == kInf;
  }
  if (invalid) return Status::invalid;
  if (empty_row) return Status::infeasible;
  if (n == m) {
    std::fill(ws.v.begin(), ws.v.end(), kInf);
    for (std::int64_t i = 0; i < n; ++i) {
      const double* row = cost + i * m;
      for (std::int64_t j = 0; j < m; ++j) {
        const double reduced = row[j] - ws.u[i];
        ws.v[j] = reduced < ws.v[j] ? reduced : ws.v[j];
      }
    }
    if (*std::max_element(ws.v.begin(), ws.v.end()) == kInf) return Status::infeasible;
  }
  for (std::int64_t i = 0; i < n; ++i) {
    const double* row = cost + i * m;
    for (std::int64_t j = 0; j < m; ++j) {
      if (ws.row4col[j] == -1 && row[j] - ws.u[i] - ws.v[j] == 0.0) {
        ws.row4col[j] = i;
        ws.col4row[i] = j;
        break;
      }
    }
  }
  for (std::int64_t cur = 0; cur < n; ++cur) {
    if (ws.col4row[cur] != -1) continue;
    double min_val = 0.0;
    std::int64_t j = shortest_path(cost, m, cur, ws, min_val);
    if (j < 0) return Status::infeasible;
    // Dual update keeps reduced costs non-negative and tight along the matching.
    ws.u[cur] += min_val;
    for (std::int64_t i = 0; i < n; ++i) {
      if (ws.row_seen[i] && i != cur) ws.u[i] += min_val - ws.path_cost[ws.col4row[i]];
    }
    for (std::int64_t c = 0; c < m; ++c) {
      if (ws.col_seen[c]) ws.v[c] -= min_val - ws.path_cost[c];
    }
    // Augment along the path back to cur.
    while (true) {
      const std::int64_t i = ws.path[j];
      ws.row4col[j] = i;
      std::swap(ws.col4row[i], j);
      if (i == cur) break;
    }
  }
  return Status::ok;
}

}  // namespace

Status solve(const double* cost, std::int64_t n, std::int64_t m, std::int64_t* rows, std::int64_t* cols,
             Workspace& ws) {
  if (n == 0 || m == 0) return Status::ok;
  if (n <= m) {
    const Status st = solve_wide(cost, n, m, ws);
    if (st != Status::ok) return st;
    for (std::int64_t i = 0; i < n; ++i) {
      rows[i] = i;
      cols[i] = ws.col4row[i];
    }
    return Status::ok;
  }
  // Tall: solve the transpose, whose columns are our rows; reading them in order keeps rows ascending.
  ws.transposed.resize(n * m);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < m; ++j) ws.transposed[j * n + i] = cost[i * m + j];
  }
  const Status st = solve_wide(ws.transposed.data(), m, n, ws);
  if (st != Status::ok) return st;
  std::int64_t k = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    if (ws.row4col[i] == -1) continue;
    rows[k] = i;
    cols[k] = ws.row4col[i];
    ++k;
  }
  return Status::ok;
}

std::int64_t solve_batch(const double* costs, std::int64_t batch, std::int64_t n, std::int64_t m, std::int64_t* rows,
                         std::int64_t* cols, Status* status) {
  const std::int64_t k = std::min(n, m);
  std::int64_t first_bad = -1;
  *status = Status::ok;
#pragma omp parallel if (batch > 1)
  {
    Workspace ws;
#pragma omp for schedule(static)
    for (std::int64_t b = 0; b < batch; ++b) {
      const Status st = solve(costs + b * n * m, n, m, rows + b * k, cols + b * k, ws);
      if (st != Status::ok) {
#pragma omp critical(udmt_lsap_error)
        if (first_bad < 0 || b < first_bad) {
          first_bad = b;
          *status = st;
        }
      }
    }
  }
  return first_bad;
}

}  // namespace udmt::lsap
