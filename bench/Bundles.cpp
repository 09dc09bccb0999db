//===- Bundles.cpp - One compiled bundle per pattern and parameters -------===//
#include "Bundles.h"

#include "attn/attn.h"

namespace attnc::bench {

std::string bundleKey(const Case &c) {
  std::string key = c.file + "\n" + c.pattern;
  for (const auto &[name, value] : c.params)
    key += "\n" + name + "=" + value;
  return key;
}

const attn::Bundle &BundleCache::get(const Case &c) {
  std::string key = bundleKey(c);
  auto found = bundles_.find(key);
  if (found != bundles_.end())
    return found->second;
  attn::CompileOptions options;
  options.pattern = c.pattern;
  options.params.insert(c.params.begin(), c.params.end());
  return bundles_.emplace(key, attn::compileFile(c.file, options)).first->second;
}

} // namespace attnc::bench
