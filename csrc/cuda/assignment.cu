#include "assignment.cuh"

#include <stdexcept>

#include "launch.cuh"

namespace udmt::cuda {

namespace {

constexpr int kThreads = 64;

// Dijkstra from row `start` over reduced costs; returns the free column reached first (or -1: none can be).
__device__ int shortest_path(const double* c, int n, int m, int start, const double* u, const double* v,
                             const int* row4col, double* spc, int* path, bool* scanned_row, bool* scanned_col,
                             double* min_value) {
  int remaining[kMaxColumns];
  int left = m;
  for (int it = 0; it < m; ++it) remaining[it] = m - it - 1;
  for (int i = 0; i < n; ++i) scanned_row[i] = false;
  for (int j = 0; j < m; ++j) {
    scanned_col[j] = false;
    spc[j] = INFINITY;
  }
  double reached = 0.0;
  int i = start;
  while (true) {
    scanned_row[i] = true;
    int best = -1;
    double lowest = INFINITY;
    for (int it = 0; it < left; ++it) {
      const int j = remaining[it];
      const double r = reached + c[i * m + j] - u[i] - v[j];
      if (r < spc[j]) {
        path[j] = i;
        spc[j] = r;
      }
      if (spc[j] < lowest || (spc[j] == lowest && row4col[j] == -1)) {  // ties: a free column ends the search
        lowest = spc[j];
        best = it;
      }
    }
    reached = lowest;
    if (!(reached < INFINITY)) return -1;
    const int j = remaining[best];
    scanned_col[j] = true;
    remaining[best] = remaining[--left];
    if (row4col[j] == -1) {
      *min_value = reached;
      return j;
    }
    i = row4col[j];
  }
}

__global__ void lsap_kernel(const double* costs, int batch, int n, int m, std::int64_t* cols, std::int32_t* status) {
  const int b = blockIdx.x * blockDim.x + threadIdx.x;
  if (b >= batch) return;
  const double* c = costs + static_cast<long long>(b) * n * m;
  for (int t = 0; t < n * m; ++t) {
    if (isnan(c[t]) || c[t] == -INFINITY) {
      status[b] = kLsapInvalid;
      return;
    }
  }
  double u[kMaxColumns], v[kMaxColumns], spc[kMaxColumns];
  int col4row[kMaxColumns], row4col[kMaxColumns], path[kMaxColumns];
  bool scanned_row[kMaxColumns], scanned_col[kMaxColumns];
  for (int i = 0; i < n; ++i) {
    u[i] = 0.0;
    col4row[i] = -1;
  }
  for (int j = 0; j < m; ++j) {
    v[j] = 0.0;
    row4col[j] = -1;
  }
  for (int row = 0; row < n; ++row) {
    double min_value = 0.0;
    const int sink = shortest_path(c, n, m, row, u, v, row4col, spc, path, scanned_row, scanned_col, &min_value);
    if (sink < 0) {
      status[b] = kLsapInfeasible;
      return;
    }
    u[row] += min_value;  // dual update keeps reduced costs non-negative and the new path tight
    for (int i = 0; i < n; ++i) {
      if (scanned_row[i] && i != row) u[i] += min_value - spc[col4row[i]];
    }
    for (int j = 0; j < m; ++j) {
      if (scanned_col[j]) v[j] -= min_value - spc[j];
    }
    for (int j = sink;;) {  // augment along the path back to `row`
      const int i = path[j];
      row4col[j] = i;
      const int previous = col4row[i];
      col4row[i] = j;
      j = previous;
      if (i == row) break;
    }
  }
  for (int i = 0; i < n; ++i) cols[static_cast<long long>(b) * n + i] = col4row[i];
  status[b] = kLsapOk;
}

}  // namespace

void linear_sum_assignment_batch(const double* costs, int batch, int rows, int columns, std::int64_t* cols,
                                 std::int32_t* status, cudaStream_t stream) {
  if (rows > columns || columns > kMaxColumns) {
    throw std::invalid_argument("linear_sum_assignment_batch: need rows <= columns <= 64");
  }
  if (batch == 0 || rows == 0) return;
  lsap_kernel<<<(batch + kThreads - 1) / kThreads, kThreads, 0, stream>>>(costs, batch, rows, columns, cols, status);
  check_launch("linear_sum_assignment_batch");
}

}  // namespace udmt::cuda
