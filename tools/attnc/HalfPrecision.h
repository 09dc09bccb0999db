//===- HalfPrecision.h - float <-> bf16 / fp16 on the host ----------------===//
//
// The kernels read bf16 or fp16; `attnc run` takes float32 (or float16) .npy
// files, so it converts on the host, rounding to nearest even as the GPU's
// own conversions (__float2bfloat16_rn, __float2half_rn) do.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>

namespace attnc {

/// bfloat16: the top half of a float32. NaN stays a (quiet) NaN.
uint16_t floatToBf16(float value);
float bf16ToFloat(uint16_t bits);

/// IEEE binary16, with subnormals; beyond the largest half, infinity.
uint16_t floatToHalf(float value);
float halfToFloat(uint16_t bits);

} // namespace attnc
