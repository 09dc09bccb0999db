//===- AlibiSlope.cpp -----------------------------------------------------===//
//
// The paper's reference code (github.com/ofirpress/attention_with_linear_biases):
//
//   def get_slopes(n):
//       def get_slopes_power_of_2(n):
//           start = (2**(-2**-(math.log2(n)-3)))
//           ratio = start
//           return [start*ratio**i for i in range(n)]
//       if math.log2(n).is_integer():
//           return get_slopes_power_of_2(n)
//       else:
//           closest_power_of_2 = 2**math.floor(math.log2(n))
//           return get_slopes_power_of_2(closest_power_of_2) +
//                  get_slopes(2*closest_power_of_2)[0::2][:n-closest_power_of_2]
//
// Element h of that list is computed directly, with the same floating-point
// operations, so that any H costs O(1).
//
//===----------------------------------------------------------------------===//
#include "attnc/Dialect/Attn/AlibiSlope.h"

#include <cmath>

namespace attnc::attn {
namespace {

/// get_slopes_power_of_2(n)[k]
double slopeForPowerOfTwo(int64_t n, int64_t k) {
  double start = std::pow(2.0, -std::pow(2.0, -(std::log2(static_cast<double>(n)) - 3)));
  double ratio = start;
  return start * std::pow(ratio, static_cast<double>(k));
}

bool isPowerOfTwo(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

} // namespace

double alibiSlopeValue(int64_t h, int64_t numHeads) {
  if (isPowerOfTwo(numHeads))
    return slopeForPowerOfTwo(numHeads, h);
  int64_t closest = 1; // 2**math.floor(math.log2(n))
  while (closest * 2 <= numHeads)
    closest *= 2;
  if (h < closest)
    return slopeForPowerOfTwo(closest, h);
  // get_slopes(2 * closest)[0::2][h - closest]
  return slopeForPowerOfTwo(2 * closest, 2 * (h - closest));
}

} // namespace attnc::attn
