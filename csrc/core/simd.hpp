#pragma once
// Runtime ISA dispatch for the hot per-plane / per-matrix functions.
//
// The module is built for the baseline x86-64 ISA so that it loads on any machine, but the FFT and DCF inner
// loops are 2-3x faster with AVX2 + FMA. GCC's target_clones emits a baseline and an x86-64-v3 copy of each
// marked function and picks one at load time (ifunc); `flatten` inlines the helpers into each copy so they are
// compiled for that copy's ISA too.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define UDMT_MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default"), flatten))
#else
#define UDMT_MULTIVERSION
#endif
