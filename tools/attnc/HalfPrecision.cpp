//===- HalfPrecision.cpp - float <-> bf16 / fp16 on the host --------------===//
#include "HalfPrecision.h"

#include <cmath>
#include <cstring>

namespace attnc {
namespace {

uint32_t bitsOf(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

float floatOf(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

/// `value >> shift`, rounded to nearest even on the bits shifted out.
uint32_t shiftRoundingToEven(uint32_t value, unsigned shift) {
  uint32_t kept = value >> shift;
  uint32_t dropped = value & ((1u << shift) - 1);
  uint32_t half = 1u << (shift - 1);
  return kept + (dropped > half || (dropped == half && (kept & 1)));
}

constexpr uint32_t kFloatExponentMask = 0x7f800000;
constexpr uint32_t kFloatAbsMask = 0x7fffffff;
// Half limits, as float32 bit patterns: the smallest normal (2^-14), the
// midpoint between the largest finite half (65504) and 65536, from which on
// rounding gives infinity, and half the smallest subnormal (2^-25), up to
// which rounding gives zero.
constexpr uint32_t kHalfMinNormal = 0x38800000;
constexpr uint32_t kHalfOverflow = 0x477ff000;
constexpr uint32_t kHalfUnderflow = 0x33000000;

} // namespace

uint16_t floatToBf16(float value) {
  uint32_t bits = bitsOf(value);
  if ((bits & kFloatAbsMask) > kFloatExponentMask)
    return static_cast<uint16_t>((bits >> 16) | 0x40);
  return static_cast<uint16_t>(shiftRoundingToEven(bits, 16));
}

float bf16ToFloat(uint16_t bits) { return floatOf(uint32_t(bits) << 16); }

uint16_t floatToHalf(float value) {
  uint32_t bits = bitsOf(value);
  uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  uint32_t abs = bits & kFloatAbsMask;
  if (abs > kFloatExponentMask)
    return sign | 0x7e00;
  if (abs >= kHalfOverflow)
    return sign | 0x7c00;
  if (abs <= kHalfUnderflow)
    return sign;
  if (abs < kHalfMinNormal) {
    // A subnormal half counts units of 2^-24: the 24-bit significand
    // (implicit one included) shifted by how far the exponent is below 2^-1.
    uint32_t exponent = abs >> 23;
    uint32_t significand = (abs & 0x7fffff) | 0x800000;
    return sign | static_cast<uint16_t>(shiftRoundingToEven(significand, 126 - exponent));
  }
  // Rebias the exponent (127 -> 15) and drop 13 mantissa bits; a carry out
  // of the mantissa correctly bumps the exponent.
  return sign | static_cast<uint16_t>(shiftRoundingToEven(abs - (112u << 23), 13));
}

float halfToFloat(uint16_t bits) {
  uint32_t sign = uint32_t(bits & 0x8000) << 16;
  uint32_t exponent = (bits >> 10) & 0x1f;
  uint32_t mantissa = bits & 0x3ff;
  if (exponent == 0x1f)
    return floatOf(sign | kFloatExponentMask | (mantissa << 13));
  if (exponent == 0) {
    float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  return floatOf(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

} // namespace attnc
