//===- Check.cpp - attnc-bench --check: the pair count, checked twice -----===//
#include "Check.h"

#include "PatternBuffers.h"
#include "Listing.h"

#include "attnc/frontend/Frontend.h"
#include "attnc/interp/Interpreter.h"

#include "attn/Error.h"

#include "llvm/Support/raw_ostream.h"

#include <map>

namespace attnc::bench {
namespace {

/// The case at another N (the tensors are filled for that N).
Case atLength(const Case &c, int64_t n) {
  Case resized = c;
  resized.N = n;
  resized.id = caseId(resized);
  return resized;
}

ast::ElemType astType(attn::ElementType type) {
  switch (type) {
  case attn::ElementType::I32: return ast::ElemType::I32;
  case attn::ElementType::I64: return ast::ElemType::I64;
  case attn::ElementType::F32: return ast::ElemType::F32;
  }
  return ast::ElemType::I32;
}

/// The reference interpreter's count of attended pairs per head.
std::vector<uint64_t> interpreterCounts(const Case &c, const std::vector<CaseTensor> &tensors) {
  llvm::Expected<std::string> text = attnc::readFile(c.file);
  if (!text)
    throw attn::Error(llvm::toString(text.takeError()));
  std::string diagnostics;
  llvm::raw_string_ostream os(diagnostics);
  attnc::CheckedFile file = attnc::checkSource(c.file, *text, os);
  auto pattern = attnc::selectPattern(file, c.pattern);
  if (!file.ok || !pattern)
    throw attn::Error(diagnostics + (pattern ? "" : llvm::toString(pattern.takeError())));
  std::vector<std::string> defines;
  for (const auto &[name, value] : c.params)
    defines.push_back(name + "=" + value);
  auto values = attnc::interp::bindParams(**pattern, defines);
  if (!values)
    throw attn::Error(llvm::toString(values.takeError()));
  std::map<std::string, attnc::interp::HostTensor> host;
  for (const CaseTensor &tensor : tensors)
    host[tensor.name] = {astType(tensor.type), tensor.shape, tensor.bytes.data()};
  auto interpreter = attnc::interp::Interpreter::create(**pattern, *values, {c.H, c.N, c.N, c.D},
                                                        std::move(host));
  if (!interpreter)
    throw attn::Error(llvm::toString(interpreter.takeError()));
  std::vector<uint64_t> counts(c.H, 0);
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t h = 0; h < c.H; ++h)
      for (int64_t i = 0; i < c.N; ++i)
        for (int64_t j = 0; j < c.N; ++j)
          counts[h] += interpreter->attends(b, h, i, j);
  return counts;
}

/// The largest N (the case's, halved) with at most kAllPairsLimit pairs.
int64_t allPairsLength(const Case &c) {
  int64_t n = c.N;
  while (n > 1 && double(c.B) * c.H * double(n) * double(n) > kAllPairsLimit)
    n /= 2;
  return n;
}

void requireEqual(const char *what, int64_t n, const std::vector<uint64_t> &layout,
                  const std::vector<uint64_t> &brute) {
  if (layout != brute)
    throw attn::Error("--check: at N = " + std::to_string(n) + " the layout counts " +
                      std::to_string(sum(layout)) + " attended pairs, " + what + " " +
                      std::to_string(sum(brute)) + " (the counts of some head differ)");
}

/// The layout count and a brute-force one at length `n`.
std::pair<std::vector<uint64_t>, std::vector<uint64_t>>
countBoth(const Suite &suite, const Case &c, BundleCache &bundles,
          const attn::Attention &attention, const PairCounter &counter, bool onGpu) {
  std::vector<CaseTensor> tensors = tensorsOf(suite, c, bundles);
  PatternBuffers device(tensors);
  attn::BlockLayout layout = attention.layout({c.B, c.H, c.Hkv, c.N, c.N}, device.args);
  std::vector<uint64_t> fromLayout = counter.countLayout(layout, c.D, device.args);
  std::vector<uint64_t> brute = onGpu ? counter.countAllPairs(layout.problem(), c.D, device.args)
                                      : interpreterCounts(c, tensors);
  return {fromLayout, brute};
}

} // namespace

llvm::json::Object checkPairCounts(const Suite &suite, const Case &c, BundleCache &bundles,
                                   const attn::Attention &attention,
                                   const PairCounter &counter) {
  // At least one key per document, so that the fill stays defined.
  int64_t smallest = 1;
  for (const auto &[name, fill] : c.tensors)
    if (fill.kind == Fill::Kind::Documents)
      smallest = std::max(smallest, fill.count);
  Case small = atLength(c, std::min(c.N, std::max(kInterpreterN, smallest)));
  auto [layoutSmall, interpreter] = countBoth(suite, small, bundles, attention, counter, false);
  requireEqual("the interpreter", small.N, layoutSmall, interpreter);
  Case medium = atLength(c, std::max(allPairsLength(c), smallest));
  auto [layoutMedium, allPairs] = countBoth(suite, medium, bundles, attention, counter, true);
  requireEqual("the all-pairs GPU count", medium.N, layoutMedium, allPairs);
  return llvm::json::Object{{"interpreter_n", small.N},
          {"interpreter_pairs", int64_t(sum(interpreter))},
          {"all_pairs_n", medium.N},
          {"all_pairs", int64_t(sum(allPairs))}};
}

} // namespace attnc::bench
