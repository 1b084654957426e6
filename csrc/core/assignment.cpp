#include "assignment.hpp"

#include <algorithm>
#include <cstddef>
#include <limits>
#include <utility>

#include "assignment_small.hpp"
#include "simd.hpp"

namespace udmt::lsap {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The solver's state for an n × m problem with n <= m, as raw arrays (stack or heap).
struct State {
  double *u, *v, *dist;                        // row duals (n), column duals (m), path lengths (m)
  int *path, *col4row, *row4col, *remaining;  // (m), (n), (m), (m)
};

// Everything a problem with n, m <= kSmall needs, uninitialised: declaring it costs nothing.
struct SmallBuffers {
  double u[kSmall], v[kSmall], dist[kSmall], transposed[kSmall * kSmall];
  int path[kSmall], col4row[kSmall], row4col[kSmall], remaining[kSmall];
  State state() { return {u, v, dist, path, col4row, row4col, remaining}; }
};

State heap_state(Workspace& ws, int n, int m) {
  const std::size_t doubles = static_cast<std::size_t>(n) + 2 * static_cast<std::size_t>(m);
  const std::size_t ints = static_cast<std::size_t>(n) + 3 * static_cast<std::size_t>(m);
  if (ws.duals.size() < doubles) ws.duals.resize(doubles);
  if (ws.indices.size() < ints) ws.indices.resize(ints);
  double* d = ws.duals.data();
  int* k = ws.indices.data();
  return {d, d + n, d + n + m, k, k + m, k + m + n, k + 2 * m + n};
}

// Dijkstra over reduced costs from the free row `start` to the nearest free column. Returns that column, or -1
// when every remaining column is forbidden (the problem is infeasible); min_val is the path's reduced cost.
// The columns it visited (the sink first) are left in remaining[visited_from, m).
int shortest_path(const double* cost, int m, int start, const State& s, double& min_val, int& visited_from) {
  std::fill(s.dist, s.dist + m, kInf);
  for (int j = 0; j < m; ++j) s.remaining[j] = j;
  int n_remaining = m, i = start;
  min_val = 0.0;
  while (true) {
    const double* row = cost + static_cast<std::size_t>(i) * m;
    const double ui = s.u[i];
    int index = 0;
    double lowest = kInf;
    // Branch-free scan (conditional moves): the comparisons are unpredictable and dominate small problems.
    for (int it = 0; it < n_remaining; ++it) {
      const int j = s.remaining[it];
      const double r = min_val + row[j] - ui - s.v[j];
      const bool shorter = r < s.dist[j];
      s.path[j] = shorter ? i : s.path[j];
      const double d = shorter ? r : s.dist[j];
      s.dist[j] = d;
      // Among equal distances prefer a free column: the search ends sooner.
      const bool take = d < lowest || (d == lowest && s.row4col[j] == -1);
      lowest = take ? d : lowest;
      index = take ? it : index;
    }
    if (lowest == kInf) return -1;
    min_val = lowest;
    const int j = s.remaining[index];
    s.remaining[index] = s.remaining[--n_remaining];
    s.remaining[n_remaining] = j;
    if (s.row4col[j] == -1) {
      visited_from = n_remaining;
      return j;
    }
    i = s.row4col[j];
  }
}

// Square warm start (as in Jonker–Volgenant): u = 0, v = column minima, each column taking its minimising row
// while that row is free. One vectorisable pass also refuses NaN / -inf; a column with no allowed row is
// infeasible (a row with none shows up in the search).
Status reduce_columns(const double* cost, int n, const State& s) {
  std::fill(s.v, s.v + n, kInf);
  std::fill(s.path, s.path + n, 0);  // argmin rows
  int invalid = 0;
  for (int i = 0; i < n; ++i) {
    const double* row = cost + static_cast<std::size_t>(i) * n;
    for (int j = 0; j < n; ++j) {
      const double c = row[j];
      invalid |= !(c > -kInf);
      const bool lower = c < s.v[j];
      s.v[j] = lower ? c : s.v[j];
      s.path[j] = lower ? i : s.path[j];
    }
  }
  if (invalid != 0) return Status::invalid;
  if (*std::max_element(s.v, s.v + n) == kInf) return Status::infeasible;
  std::fill(s.u, s.u + n, 0.0);
  std::fill(s.col4row, s.col4row + n, -1);
  for (int j = 0; j < n; ++j) {
    const int i = s.path[j];
    const bool take = s.col4row[i] == -1;
    s.col4row[i] = take ? j : s.col4row[i];
    s.row4col[j] = take ? i : -1;
  }
  return Status::ok;
}

// Wide warm start: u = row minima, v = 0 (columns left unassigned must keep v = 0), each row taking the first
// free column on a tight edge.
Status reduce_rows(const double* cost, int n, int m, const State& s) {
  bool invalid = false, empty_row = false;
  for (int i = 0; i < n; ++i) {
    const double* row = cost + static_cast<std::size_t>(i) * m;
    double low = kInf;
    for (int j = 0; j < m; ++j) {
      invalid |= !(row[j] > -kInf);  // NaN or -inf
      low = row[j] < low ? row[j] : low;
    }
    s.u[i] = low;
    empty_row |= low == kInf;
  }
  if (invalid) return Status::invalid;
  if (empty_row) return Status::infeasible;
  std::fill(s.v, s.v + m, 0.0);
  std::fill(s.path, s.path + m, -1);
  std::fill(s.row4col, s.row4col + m, -1);
  std::fill(s.col4row, s.col4row + n, -1);
  for (int i = 0; i < n; ++i) {
    const double* row = cost + static_cast<std::size_t>(i) * m;
    for (int j = 0; j < m; ++j) {
      if (s.row4col[j] == -1 && row[j] - s.u[i] == 0.0) {
        s.row4col[j] = i;
        s.col4row[i] = j;
        break;
      }
    }
  }
  return Status::ok;
}

// n <= m. On success col4row/row4col hold an optimal assignment of every row.
UDMT_MULTIVERSION Status solve_wide(const double* cost, int n, int m, const State& s) {
  const Status warm = n == m ? reduce_columns(cost, n, s) : reduce_rows(cost, n, m, s);
  if (warm != Status::ok) return warm;
  for (int cur = 0; cur < n; ++cur) {
    if (s.col4row[cur] != -1) continue;
    double min_val = 0.0;
    int visited_from = m;
    const int sink = shortest_path(cost, m, cur, s, min_val, visited_from);
    if (sink < 0) return Status::infeasible;
    // Dual update keeps reduced costs non-negative and tight along the matching. The visited rows other than
    // cur are exactly those matched to the visited columns other than the sink.
    s.u[cur] += min_val;
    for (int t = visited_from; t < m; ++t) {
      const int c = s.remaining[t];
      const double delta = min_val - s.dist[c];
      s.v[c] -= delta;
      if (c != sink) s.u[s.row4col[c]] += delta;
    }
    // Augment along the path back to cur.
    for (int j = sink;;) {
      const int i = s.path[j];
      s.row4col[j] = i;
      std::swap(s.col4row[i], j);
      if (i == cur) break;
    }
  }
  return Status::ok;
}

// Any orientation: a tall problem is solved as its transpose (written to `transposed`), whose columns are our
// rows; reading them in order keeps rows ascending. `s` is sized for min(n, m) × max(n, m).
Status solve_oriented(const double* cost, int n, int m, std::int64_t* rows, std::int64_t* cols, const State& s,
                      double* transposed) {
  if (n <= m) {
    const Status st = solve_wide(cost, n, m, s);
    if (st != Status::ok) return st;
    for (int i = 0; i < n; ++i) {
      rows[i] = i;
      cols[i] = s.col4row[i];
    }
    return Status::ok;
  }
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < m; ++j) transposed[static_cast<std::size_t>(j) * n + i] = cost[static_cast<std::size_t>(i) * m + j];
  }
  const Status st = solve_wide(transposed, m, n, s);
  if (st != Status::ok) return st;
  int k = 0;
  for (int i = 0; i < n; ++i) {
    if (s.row4col[i] == -1) continue;
    rows[k] = i;
    cols[k] = s.row4col[i];
    ++k;
  }
  return Status::ok;
}

}  // namespace

Status solve(const double* cost, std::int64_t n, std::int64_t m, std::int64_t* rows, std::int64_t* cols,
             Workspace& ws) {
  if (n == 0 || m == 0) return Status::ok;
  const int ni = static_cast<int>(n), mi = static_cast<int>(m);
  if (n == m && n <= small::kMaxN && small::available()) {
    for (int i = 0; i < ni; ++i) rows[i] = i;
    return small::solve(cost, ni, cols);
  }
  if (n <= kSmall && m <= kSmall) {
    SmallBuffers small;
    return solve_oriented(cost, ni, mi, rows, cols, small.state(), small.transposed);
  }
  if (n > m) ws.transposed.resize(static_cast<std::size_t>(n) * m);
  return solve_oriented(cost, ni, mi, rows, cols, heap_state(ws, std::min(ni, mi), std::max(ni, mi)),
                        ws.transposed.data());
}

std::int64_t solve_batch(const double* costs, std::int64_t batch, std::int64_t n, std::int64_t m, std::int64_t* rows,
                         std::int64_t* cols, Status* status) {
  const std::int64_t k = std::min(n, m);
  std::int64_t first_bad = -1;
  *status = Status::ok;
#pragma omp parallel if (batch > 1)
  {
    Workspace ws;  // only touched by matrices larger than kSmall
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
