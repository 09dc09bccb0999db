//===- Bundles.h - One compiled bundle per pattern and parameters ---------===//
#pragma once

#include "Suite.h"

#include "attn/Bundle.h"

#include <map>
#include <string>

namespace attnc::bench {

/// Compiles each (file, pattern, parameters) of a suite once: the cases of
/// one pattern differ in sizes, which a bundle does not depend on.
class BundleCache {
public:
  /// Throws attn::Error (the pattern's diagnostics).
  const attn::Bundle &get(const Case &c);

private:
  std::map<std::string, attn::Bundle> bundles_;
};

/// The key of what a bundle depends on: file, pattern and parameters.
std::string bundleKey(const Case &c);

} // namespace attnc::bench
