#include "assignment_small.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define UDMT_LSAP_SMALL 1
#include <immintrin.h>
#else
#define UDMT_LSAP_SMALL 0
#endif

#include <array>
#include <limits>
#include <utility>

namespace udmt::lsap::small {

#if UDMT_LSAP_SMALL
namespace {

#define UDMT_AVX2 __attribute__((target("avx2"), always_inline)) inline

// kLanes[b]: the 4-lane mask whose lane l is set when bit l of b is: turns column bit sets into blend masks.
constexpr std::array<std::array<std::int64_t, 4>, 16> lane_table() {
  std::array<std::array<std::int64_t, 4>, 16> t{};
  for (int b = 0; b < 16; ++b) {
    for (int l = 0; l < 4; ++l) t[b][l] = ((b >> l) & 1) != 0 ? -1 : 0;
  }
  return t;
}
alignas(32) constexpr auto kLanes = lane_table();

// Column sets are bit sets (bit j = column j); vectors hold columns 4k .. 4k+3.
template <int NV>
struct Solver {
  const double* cost;
  int n;
  unsigned valid;  // columns 0 .. n-1
  __m256i tail;    // masked-load lanes of the last vector: reading past the matrix must not fault
  __m256d v[NV];   // column duals
  alignas(32) double v_scalar[4 * NV];
  alignas(32) std::int64_t pred[4 * NV];  // row preceding each column on the shortest path
  alignas(32) double reached[4 * NV] = {};  // distance at which each column was scanned (this search)
  __m256d padding[NV];       // all-ones (NaN) in lanes past n
  __m256d column_index[NV];  // 4k .. 4k+3
  int col4row[kMaxN], row4col[kMaxN];
  unsigned free_cols = 0;

  UDMT_AVX2 __m256d row(int i, int k) const {
    const double* p = cost + static_cast<std::ptrdiff_t>(i) * n + 4 * k;
    return k == NV - 1 ? _mm256_maskload_pd(p, tail) : _mm256_loadu_pd(p);
  }

  // u = 0, v = column minima; each column takes its minimising row while that row is free. Also refuses NaN
  // and -inf (a comparison that is not "> -inf"), and reports a column with no allowed row as infeasible.
  UDMT_AVX2 Status reduce_columns() {
    const __m256d inf = _mm256_set1_pd(std::numeric_limits<double>::infinity());
    __m256d arg[NV], bad = _mm256_setzero_pd();
    for (int k = 0; k < NV; ++k) {
      v[k] = inf;
      arg[k] = _mm256_setzero_pd();
    }
    for (int i = 0; i < n; ++i) {
      const __m256d index = _mm256_castsi256_pd(_mm256_set1_epi64x(i));
      for (int k = 0; k < NV; ++k) {
        const __m256d c = row(i, k);
        bad = _mm256_or_pd(bad, _mm256_cmp_pd(c, _mm256_sub_pd(_mm256_setzero_pd(), inf), _CMP_NGT_UQ));
        const __m256d lower = _mm256_cmp_pd(c, v[k], _CMP_LT_OQ);
        v[k] = _mm256_blendv_pd(v[k], c, lower);
        arg[k] = _mm256_blendv_pd(arg[k], index, lower);
      }
    }
    unsigned bad_bits = 0, empty_cols = 0;
    for (int k = 0; k < NV; ++k) {
      bad_bits |= static_cast<unsigned>(_mm256_movemask_pd(bad)) << (4 * k);
      empty_cols |= static_cast<unsigned>(_mm256_movemask_pd(_mm256_cmp_pd(v[k], inf, _CMP_EQ_OQ))) << (4 * k);
      _mm256_store_pd(reinterpret_cast<double*>(pred + 4 * k), arg[k]);
      // Lanes past n hold minima of the zeros a masked load gives: harmless, they are never opened.
    }
    if ((bad_bits & valid) != 0) return Status::invalid;
    if ((empty_cols & valid) != 0) return Status::infeasible;
    for (int i = 0; i < n; ++i) col4row[i] = -1;
    for (int j = 0; j < n; ++j) {
      const int i = static_cast<int>(pred[j]);
      const bool take = col4row[i] < 0;
      col4row[i] = take ? j : col4row[i];
      row4col[j] = take ? i : -1;
      free_cols |= take ? 0u : 1u << j;
    }
    store_duals();
    return Status::ok;
  }

  UDMT_AVX2 void store_duals() {
    for (int k = 0; k < NV; ++k) _mm256_store_pd(v_scalar + 4 * k, v[k]);
  }

  // Dijkstra from the free row f over reduced costs c[i, j] − u_i − v_j, then the dual update and the
  // augmentation (LAPJV's augment phase). Returns false when no free column can be reached (infeasible).
  // `open` holds the tentative distance of each unscanned column and NaN elsewhere (scanned and padding lanes):
  // every comparison with NaN is false and min(NaN, x) = x, so scanned columns drop out of both the minimum
  // and the relaxation without a mask, and scanning column j is one OR with its lane.
  UDMT_AVX2 bool augment(int f) {
    const __m256d inf = _mm256_set1_pd(std::numeric_limits<double>::infinity());
    __m256d open[NV], path[NV];
    const __m256d first = _mm256_castsi256_pd(_mm256_set1_epi64x(f));
    for (int k = 0; k < NV; ++k) {
      // u_f = 0: the search only needs distances up to a constant.
      open[k] = _mm256_or_pd(_mm256_sub_pd(row(f, k), v[k]), padding[k]);
      path[k] = first;
    }
    double min_val;
    int sink;
    while (true) {
      __m256d low = inf;
      for (int k = 0; k < NV; ++k) low = _mm256_min_pd(open[k], low);  // NaN lanes of open[k] lose
      low = _mm256_min_pd(low, _mm256_permute2f128_pd(low, low, 1));
      low = _mm256_min_pd(low, _mm256_permute_pd(low, 5));  // every lane holds the minimum
      min_val = _mm256_cvtsd_f64(low);
      if (!(min_val < std::numeric_limits<double>::infinity())) return false;
      unsigned ties = 0;
      for (int k = 0; k < NV; ++k) {
        ties |= static_cast<unsigned>(_mm256_movemask_pd(_mm256_cmp_pd(open[k], low, _CMP_EQ_OQ))) << (4 * k);
      }
      // Among equal distances prefer a free column: the search ends sooner.
      const unsigned free_ties = ties & free_cols;
      const int j = __builtin_ctz(free_ties != 0 ? free_ties : ties);
      reached[j] = min_val;
      const __m256d lane = _mm256_set1_pd(static_cast<double>(j));
      for (int k = 0; k < NV; ++k) open[k] = _mm256_or_pd(open[k], _mm256_cmp_pd(column_index[k], lane, _CMP_EQ_OQ));
      if (row4col[j] < 0) {
        sink = j;
        break;
      }
      const int i = row4col[j];
      // Tight matched edge: u_i = c[i, j] − v_j, shifted by the distance at which j was reached.
      const __m256d h = _mm256_set1_pd(cost[static_cast<std::ptrdiff_t>(i) * n + j] - v_scalar[j] - min_val);
      const __m256d from = _mm256_castsi256_pd(_mm256_set1_epi64x(i));
      for (int k = 0; k < NV; ++k) {
        const __m256d r = _mm256_sub_pd(_mm256_sub_pd(row(i, k), v[k]), h);
        const __m256d shorter = _mm256_cmp_pd(r, open[k], _CMP_LT_OQ);
        open[k] = _mm256_blendv_pd(open[k], r, shorter);
        path[k] = _mm256_blendv_pd(path[k], from, shorter);
      }
    }
    // Scanned columns: v_j += d_j − min_val (<= 0) keeps every reduced cost non-negative and the path tight.
    const __m256d mv = _mm256_set1_pd(min_val);
    for (int k = 0; k < NV; ++k) {
      const __m256d scanned = _mm256_andnot_pd(padding[k], _mm256_cmp_pd(open[k], open[k], _CMP_UNORD_Q));
      v[k] = _mm256_add_pd(v[k], _mm256_and_pd(scanned, _mm256_sub_pd(_mm256_load_pd(reached + 4 * k), mv)));
      _mm256_store_pd(reinterpret_cast<double*>(pred + 4 * k), path[k]);
    }
    store_duals();
    for (int j = sink;;) {
      const int i = static_cast<int>(pred[j]);
      row4col[j] = i;
      std::swap(col4row[i], j);
      if (i == f) break;
    }
    free_cols &= ~(1u << sink);
    return true;
  }

  UDMT_AVX2 Status run(std::int64_t* cols) {
    const Status st = reduce_columns();
    if (st != Status::ok) return st;
    for (int f = 0; f < n; ++f) {
      if (col4row[f] < 0 && !augment(f)) return Status::infeasible;
    }
    for (int i = 0; i < n; ++i) cols[i] = col4row[i];
    return Status::ok;
  }
};

template <int NV>
__attribute__((target("avx2"))) Status solve_nv(const double* cost, int n, std::int64_t* cols) {
  Solver<NV> s;
  s.cost = cost;
  s.n = n;
  s.valid = (1u << n) - 1u;
  const int last = n - 4 * (NV - 1);  // valid lanes of the last vector, 1..4
  const __m256d tail = _mm256_load_pd(reinterpret_cast<const double*>(kLanes[(1u << last) - 1u].data()));
  s.tail = _mm256_castpd_si256(tail);
  for (int k = 0; k < NV; ++k) {
    s.padding[k] = k == NV - 1 ? _mm256_xor_pd(tail, _mm256_castsi256_pd(_mm256_set1_epi64x(-1))) : _mm256_setzero_pd();
    s.column_index[k] = _mm256_setr_pd(4 * k, 4 * k + 1, 4 * k + 2, 4 * k + 3);
  }
  return s.run(cols);
}

}  // namespace

bool available() {
  static const bool ok = __builtin_cpu_supports("avx2");
  return ok;
}

Status solve(const double* cost, int n, std::int64_t* cols) {
  switch ((n + 3) / 4) {
    case 1: return solve_nv<1>(cost, n, cols);
    case 2: return solve_nv<2>(cost, n, cols);
    case 3: return solve_nv<3>(cost, n, cols);
    default: return solve_nv<4>(cost, n, cols);
  }
}

#else

bool available() { return false; }

Status solve(const double*, int, std::int64_t*) { return Status::invalid; }

#endif

}  // namespace udmt::lsap::small
