// GEMM C = A W^T (+ C) with W in PyTorch's [out, in] layout, packed once into the micro-kernels'
// panel layout: f32 weights, and bf16 weights either through vdpbf16ps (A rounded to bf16 on
// the fly; archs with has_bf16_dot) or widened to f32 panels at packing time. One include for
// the pieces:
//   gemm/config.hpp      micro-tile and cache blocks per arch, panel_view
//   gemm/pack.hpp        packing W (once) and A (per block)
//   gemm/kernels.hpp     the register-blocked micro-kernels
//   gemm/driver.hpp      cache blocking and the threaded work units: gemm_panels, gemm
//   packed_weights.hpp   owning packed weights
#pragma once

#include "ddiff/simd/gemm/config.hpp"
#include "ddiff/simd/gemm/driver.hpp"
#include "ddiff/simd/gemm/kernels.hpp"
#include "ddiff/simd/gemm/pack.hpp"
#include "ddiff/simd/packed_weights.hpp"
