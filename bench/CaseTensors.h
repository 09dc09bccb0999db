//===- CaseTensors.h - The filled pattern tensors of a benchmark case -----===//
//
// Matches a case's fills with the tensors its pattern's bundle declares and
// makes their host contents. No GPU needed: `attnc-bench --list
// --tensors-dir` writes them as .npy files for other programs (the peer
// comparison) to use the very same inputs.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "Suite.h"

#include "attn/Bundle.h"

#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace attnc::bench {

struct CaseTensor {
  std::string name;
  attn::ElementType type = attn::ElementType::I32;
  std::vector<int64_t> shape; // the bundle's dims resolved for the case
  std::string bytes;          // the elements, C order, little-endian
  Fill fill;
};

/// The case's tensors in the bundle's order. Errors (naming the case) for a
/// declared tensor without a fill, a fill of a tensor the pattern does not
/// declare, and a fill of the wrong element type or shape.
llvm::Expected<std::vector<CaseTensor>> makeTensors(const Case &c, const attn::Bundle &bundle);

/// The tensor as the bytes of an .npy file (`<i4` or `<f4`).
std::string npyBytes(const CaseTensor &tensor);

} // namespace attnc::bench
