#pragma once
// Batched linear assignment of small dense problems on the GPU, one thread per problem: the shortest augmenting
// path method (Jonker–Volgenant family, as scipy.optimize.linear_sum_assignment), so the result is the same
// minimum-cost matching. Costs float64, +inf forbids a pair; rows <= columns <= kMaxColumns.
#include <cuda_runtime.h>

#include <cstdint>

namespace udmt::cuda {

constexpr int kMaxColumns = 64;

enum LsapStatus : std::int32_t { kLsapOk = 0, kLsapInfeasible = 1, kLsapInvalid = 2 };

// costs: batch × rows × columns; cols: batch × rows (column of each row); status: batch.
void linear_sum_assignment_batch(const double* costs, int batch, int rows, int columns, std::int64_t* cols,
                                 std::int32_t* status, cudaStream_t stream);

}  // namespace udmt::cuda
