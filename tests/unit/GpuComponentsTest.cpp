//===- GpuComponentsTest.cpp - The component forward path on the GPU ------===//
//
// Patterns whose sets split into disjoint components with dense tile maps
// (strided, strided_merged, fixed with c = 16 and 32, dilated_sliding_window,
// the three-component test pattern; fixed_heads, whose summary columns depend
// on h, stays on its own tiles) run their forward through their components.
// Each case: random inputs, O and LSE poisoned with NaN, then every element
// written and O and LSE within the dtype's tolerance of the float64
// reference, at lengths that are not multiples of the stride or the tiles,
// Nq != Nk (aligned), MHA and GQA, bf16 and fp16, D = 64 and 128. Then the
// same inputs through the set's own tiles (KernelOptions::components = false,
// which ATTNC_COMPONENTS=0 forces), also with [B, N, H, D] memory, must give
// the same O and LSE within rounding; and the backward, which by default runs
// the set's own tiles with the LSE of the component forward, the same
// gradients. The opt-in component backward (KernelOptions::componentsBackward)
// is checked the same ways: dQ, dK and dV poisoned with NaN, then every
// element written and within the dtype's tolerance of the float64 reference
// gradients (N = 1, 17, 1000, 4133, Nq != Nk, MHA and GQA, bf16 and fp16,
// D = 64 and 128), and within rounding of, and as deterministic as, the
// backward over the set's own tiles. Without a GPU the tests skip, naming why.
//
//===----------------------------------------------------------------------===//
#include "GpuAttentionSupport.h"
#include "GpuForwardChecks.h"
#include "GpuTestSupport.h"
#include "ReferenceAttention.h"

#include "attn/attn.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <random>

namespace {

using attnc::test::DeviceTensor;
using attnc::test::Memory;
using attnc::test::PatternInputs;
using attnc::test::ReferenceOutput;
using attnc::test::downloadValues;
using attnc::test::gradientTolerance;
using attnc::test::poisonedTensor;
using attnc::test::randomTensor;
using attnc::test::relativeError;
using attnc::test::seedOf;
using attnc::test::synchronize;

/// A pattern file (relative to the source tree) with parameter values.
struct ComponentPattern {
  std::string label; // names the cases
  std::string file;
  std::map<std::string, std::string> params;
  // Whether its heads (all, or those of one set) run through components.
  bool usesComponents;
};

const ComponentPattern kPatterns[] = {
    {"strided", "patterns/strided.pattern", {}, true},
    {"strided_merged", "patterns/strided_merged.pattern", {}, true},
    {"fixed_c16", "patterns/fixed.pattern", {{"c", "16"}}, true},
    {"fixed_c32", "patterns/fixed.pattern", {{"c", "32"}}, true},
    {"fixed_heads", "patterns/fixed_heads.pattern", {}, false},
    {"dilated_sliding_window", "patterns/dilated_sliding_window.pattern", {}, true},
    {"three_components", "tests/patterns/three_components.pattern", {}, true},
};

std::string pathOf(const ComponentPattern &pattern) {
  return std::string(ATTNC_SOURCE_DIR) + "/" + pattern.file;
}

attn::Bundle bundleOf(const ComponentPattern &pattern) {
  return attn::compileFile(pathOf(pattern), {"", pattern.params});
}

std::vector<std::string> definesOf(const ComponentPattern &pattern) {
  std::vector<std::string> defines;
  for (const auto &[name, value] : pattern.params)
    defines.push_back(name + "=" + value);
  return defines;
}

/// How a case's kernels are made.
struct KernelChoice {
  attn::DType dtype;
  int headDim;
  bool components; // KernelOptions::components
  bool backward;
  bool componentsBackward = false;
};

attn::KernelOptions optionsOf(const KernelChoice &choice) {
  attn::KernelOptions options;
  options.components = choice.components;
  options.backward = choice.backward;
  options.componentsBackward = choice.componentsBackward;
  return options;
}

using KernelKey = std::tuple<std::string, attn::DType, int, bool, bool, bool>;

/// Every kernel of the suite, compiled in parallel into the kernel cache once.
void warmAll();

/// The Attention of `pattern` with `choice`, loaded once per test binary.
const attn::Attention &attentionFor(const ComponentPattern &pattern, const KernelChoice &choice) {
  warmAll();
  static auto *loaded = new std::map<KernelKey, std::unique_ptr<attn::Attention>>;
  auto &entry = (*loaded)[{pattern.label, choice.dtype, choice.headDim, choice.components,
                           choice.backward, choice.componentsBackward}];
  if (!entry)
    entry = std::make_unique<attn::Attention>(bundleOf(pattern), choice.dtype, choice.headDim,
                                              nullptr, optionsOf(choice));
  return *entry;
}

struct ComponentCase {
  const ComponentPattern *pattern;
  attn::DType dtype;
  int headDim;
  int64_t batch, heads, kvHeads, seqQ, seqK;
  Memory memory = Memory::Bhnd; // of q, k, v and o
};

std::string caseName(const ComponentCase &c) {
  return c.pattern->label + "_" + attn::dtypeName(c.dtype) + "_D" + std::to_string(c.headDim) +
         "_B" + std::to_string(c.batch) + "_H" + std::to_string(c.heads) + "_Hkv" +
         std::to_string(c.kvHeads) + "_Nq" + std::to_string(c.seqQ) + "_Nk" +
         std::to_string(c.seqK) + (c.memory == Memory::Bnhd ? "_bnhd" : "");
}

void PrintTo(const ComponentCase &c, std::ostream *os) { *os << caseName(c); }

/// One problem and its inputs, ready for forward calls.
struct Problem {
  const ComponentCase &c;
  attnc::CheckedFile file;
  std::mt19937 rng;
  PatternInputs tensors;
  DeviceTensor q, k, v;

  explicit Problem(const ComponentCase &c, const attn::Bundle &bundle)
      : c(c), file(attnc::test::checkFileAt(pathOf(*c.pattern))), rng(seedOf(caseName(c))) {
    attnc::test::makePatternInputs(*file.ast.patterns.front(), bundle,
                                   {c.heads, c.seqQ, c.seqK, c.headDim}, rng, tensors);
    q = randomTensor(c.memory, c.dtype, c.batch, c.heads, c.seqQ, c.headDim, rng);
    k = randomTensor(c.memory, c.dtype, c.batch, c.kvHeads, c.seqK, c.headDim, rng);
    v = randomTensor(c.memory, c.dtype, c.batch, c.kvHeads, c.seqK, c.headDim, rng);
  }

  attn::Problem problem() const { return {c.batch, c.heads, c.kvHeads, c.seqQ, c.seqK}; }

  /// O and LSE of `attention`'s forward into poisoned memory, downloaded.
  std::pair<DeviceTensor, std::vector<float>> forward(const attn::Attention &attention,
                                                      attn::BlockLayout &layout,
                                                      attn::DeviceBuffer &lseBuffer) {
    DeviceTensor o = poisonedTensor(c.memory, c.dtype, c.batch, c.heads, c.seqQ, c.headDim);
    std::vector<float> lse(c.batch * c.heads * c.seqQ);
    lseBuffer.fillBytes(0xFF); // NaN
    attention.forward(layout, q.tensor, k.tensor, v.tensor, o.tensor, lseBuffer.pointer());
    synchronize();
    downloadValues(o);
    lseBuffer.download(lse.data());
    return {std::move(o), std::move(lse)};
  }

  /// dQ, dK and dV of `attention`'s backward into poisoned memory,
  /// downloaded (their raw bits returned).
  std::vector<std::vector<uint16_t>> backward(const attn::Attention &attention,
                                              const attn::BlockLayout &layout,
                                              const DeviceTensor &o,
                                              const attn::DeviceBuffer &lseBuffer,
                                              const DeviceTensor &dO, DeviceTensor (&grads)[3]) {
    grads[0] = poisonedTensor(c.memory, c.dtype, c.batch, c.heads, c.seqQ, c.headDim);
    for (int g = 1; g < 3; ++g)
      grads[g] = poisonedTensor(c.memory, c.dtype, c.batch, c.kvHeads, c.seqK, c.headDim);
    attention.backward(layout, q.tensor, k.tensor, v.tensor, o.tensor, lseBuffer.pointer(),
                       dO.tensor, {grads[0].tensor, grads[1].tensor, grads[2].tensor, {}});
    synchronize();
    std::vector<std::vector<uint16_t>> bits;
    for (DeviceTensor &grad : grads)
      bits.push_back(downloadValues(grad));
    return bits;
  }
};

constexpr const char *kGradientNames[] = {"dQ", "dK", "dV"};

void expectNoNaN(const DeviceTensor (&grads)[3]) {
  for (int g = 0; g < 3; ++g)
    EXPECT_EQ(std::count_if(grads[g].values.begin(), grads[g].values.end(),
                            [](float x) { return std::isnan(x); }),
              0)
        << kGradientNames[g] << " elements are NaN (unwritten or computed)";
}

/// The heads of `layout` expected on the component path: every head of a
/// set that takes it.
std::vector<int32_t> expectedComponentHeads(const attn::Bundle &bundle, int64_t heads) {
  std::vector<std::string> sets = attn::componentPathSets(bundle);
  std::vector<int32_t> out;
  for (int64_t h = 0; h < heads; ++h)
    if (std::count(sets.begin(), sets.end(), attn::headSet(bundle, h)))
      out.push_back(static_cast<int32_t>(h));
  return out;
}

/// A forward's O and LSE, all rows, as a reference to compare another with.
ReferenceOutput asReference(const ComponentCase &c, const std::vector<float> &o,
                            const std::vector<float> &lse) {
  ReferenceOutput ref;
  ref.batch = c.batch, ref.heads = c.heads, ref.headDim = c.headDim;
  ref.rows = attnc::test::allRows(c.seqQ);
  ref.o.assign(o.begin(), o.end());
  ref.lse.assign(lse.begin(), lse.end());
  return ref;
}

//===----------------------------------------------------------------------===//
// Against the float64 reference
//===----------------------------------------------------------------------===//

class GpuComponents : public testing::TestWithParam<ComponentCase> {};

TEST_P(GpuComponents, MatchesTheReference) {
  SKIP_WITHOUT_GPU();
  const ComponentCase &c = GetParam();
  const attn::Attention &attention = attentionFor(*c.pattern, {c.dtype, c.headDim, true, false});
  Problem p(c, attention.bundle());
  attn::BlockLayout layout = attention.layout(p.problem(), p.tensors.device);
  std::vector<int32_t> heads = expectedComponentHeads(attention.bundle(), c.heads);
  EXPECT_EQ(layout.componentHeads(), heads);
  EXPECT_EQ(!heads.empty(), c.pattern->usesComponents);
  attn::DeviceBuffer lseBuffer(c.batch * c.heads * c.seqQ * sizeof(float));
  auto [o, lse] = p.forward(attention, layout, lseBuffer);
  attnc::test::expectEveryElementWritten(o.values, lse, c.headDim);

  attnc::interp::Interpreter reference =
      attnc::test::makeInterpreter(*p.file.ast.patterns.front(),
                                   {c.heads, c.seqQ, c.seqK, c.headDim}, p.tensors.host.host,
                                   definesOf(*c.pattern));
  ReferenceOutput expected = attnc::test::referenceForward(
      reference, {c.batch, c.heads, c.kvHeads, c.seqQ, c.seqK, c.headDim},
      {p.q.values.data(), p.k.values.data(), p.v.values.data()},
      attnc::test::rowsToCompare(c.seqQ, p.rng));
  attnc::test::expectMatchesReference(c.dtype, o.values, lse, c.seqQ, expected);
}

constexpr attn::DType kDTypes[] = {attn::DType::BF16, attn::DType::FP16};
constexpr int kHeadDims[] = {64, 128};

/// (batch, heads, key/value heads, Nq, Nk): lengths that are not multiples
/// of the stride (128, 64) or the tiles, MHA and GQA, fewer and more queries
/// than keys (aligned to the end of the keys).
constexpr int64_t kShapes[][5] = {
    {2, 4, 4, 1000, 1000}, {1, 4, 2, 4133, 4133}, {2, 4, 2, 300, 1000}, {1, 2, 1, 1000, 300}};

std::vector<ComponentCase> referenceCases() {
  std::vector<ComponentCase> cases;
  for (const ComponentPattern &pattern : kPatterns)
    for (attn::DType dtype : kDTypes)
      for (int headDim : kHeadDims)
        for (const auto &s : kShapes)
          cases.push_back({&pattern, dtype, headDim, s[0], s[1], s[2], s[3], s[4]});
  return cases;
}

std::string testName(const testing::TestParamInfo<ComponentCase> &info) {
  return caseName(info.param);
}

INSTANTIATE_TEST_SUITE_P(Patterns, GpuComponents, testing::ValuesIn(referenceCases()), testName);

//===----------------------------------------------------------------------===//
// Against the set's own tiles
//===----------------------------------------------------------------------===//

class GpuComponentsVsOwnTiles : public testing::TestWithParam<ComponentCase> {};

TEST_P(GpuComponentsVsOwnTiles, SameOutputWithinRounding) {
  SKIP_WITHOUT_GPU();
  const ComponentCase &c = GetParam();
  const attn::Attention &with = attentionFor(*c.pattern, {c.dtype, c.headDim, true, false});
  const attn::Attention &without = attentionFor(*c.pattern, {c.dtype, c.headDim, false, false});
  Problem p(c, with.bundle());
  attn::BlockLayout withLayout = with.layout(p.problem(), p.tensors.device);
  attn::BlockLayout withoutLayout = without.layout(p.problem(), p.tensors.device);
  EXPECT_TRUE(withoutLayout.componentHeads().empty());
  attn::DeviceBuffer lseBuffer(c.batch * c.heads * c.seqQ * sizeof(float));
  auto [oWith, lseWith] = p.forward(with, withLayout, lseBuffer);
  auto [oWithout, lseWithout] = p.forward(without, withoutLayout, lseBuffer);
  attnc::test::expectEveryElementWritten(oWith.values, lseWith, c.headDim);
  attnc::test::expectMatchesReference(c.dtype, oWith.values, lseWith, c.seqQ,
                                      asReference(c, oWithout.values, lseWithout));
}

std::vector<ComponentCase> ownTileCases() {
  std::vector<ComponentCase> cases;
  for (const ComponentPattern &pattern : kPatterns)
    for (attn::DType dtype : kDTypes)
      for (Memory memory : {Memory::Bhnd, Memory::Bnhd})
        cases.push_back({&pattern, dtype, 128, 2, 4, 2, 1000, 1000, memory});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Patterns, GpuComponentsVsOwnTiles, testing::ValuesIn(ownTileCases()),
                         testName);

TEST(GpuComponentsEnvironment, AttncComponentsZeroRunsTheSetsOwnTiles) {
  SKIP_WITHOUT_GPU();
  const ComponentPattern &pattern = kPatterns[1]; // strided_merged
  ASSERT_EQ(setenv("ATTNC_COMPONENTS", "0", 1), 0);
  attn::Attention off(bundleOf(pattern), attn::DType::BF16, 64);
  ASSERT_EQ(unsetenv("ATTNC_COMPONENTS"), 0);
  attn::Attention on(bundleOf(pattern), attn::DType::BF16, 64);
  attn::Problem problem{1, 2, 2, 1000, 1000};
  EXPECT_TRUE(off.layout(problem).componentHeads().empty());
  EXPECT_EQ(on.layout(problem).componentHeads(), (std::vector<int32_t>{0, 1}));
}

//===----------------------------------------------------------------------===//
// The backward with the component forward's LSE
//===----------------------------------------------------------------------===//

class GpuComponentForwardThenBackward : public testing::TestWithParam<ComponentCase> {};

TEST_P(GpuComponentForwardThenBackward, SameGradientsAsWithTheSetsOwnTiles) {
  SKIP_WITHOUT_GPU();
  const ComponentCase &c = GetParam();
  const attn::Attention &with = attentionFor(*c.pattern, {c.dtype, c.headDim, true, true});
  const attn::Attention &without = attentionFor(*c.pattern, {c.dtype, c.headDim, false, true});
  ASSERT_FALSE(with.options().componentsBackward)
      << "the default backward is checked here: ATTNC_COMPONENTS_BACKWARD=1 in the environment?";
  Problem p(c, with.bundle());
  DeviceTensor dO = randomTensor(c.memory, c.dtype, c.batch, c.heads, c.seqQ, c.headDim, p.rng);
  DeviceTensor grads[2][3];
  for (int run = 0; run < 2; ++run) {
    const attn::Attention &attention = run == 0 ? with : without;
    attn::BlockLayout layout = attention.layout(p.problem(), p.tensors.device);
    attn::DeviceBuffer lseBuffer(c.batch * c.heads * c.seqQ * sizeof(float));
    auto [o, lse] = p.forward(attention, layout, lseBuffer);
    p.backward(attention, layout, o, lseBuffer, dO, grads[run]);
  }
  expectNoNaN(grads[0]);
  for (int g = 0; g < 3; ++g)
    EXPECT_LE(relativeError(grads[0][g].values, grads[1][g].values),
              attnc::test::oTolerance(c.dtype))
        << kGradientNames[g] << " after the component forward vs after the set's own tiles";
}

std::vector<ComponentCase> backwardCases() {
  std::vector<ComponentCase> cases;
  for (const ComponentPattern &pattern : kPatterns)
    if (pattern.usesComponents)
      cases.push_back({&pattern, attn::DType::BF16, 64, 2, 4, 2, 1000, 1000});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Patterns, GpuComponentForwardThenBackward,
                         testing::ValuesIn(backwardCases()), testName);

//===----------------------------------------------------------------------===//
// The component backward (opt-in)
//===----------------------------------------------------------------------===//

/// Forward and backward, both through the components.
KernelChoice componentTraining(const ComponentCase &c) {
  return {c.dtype, c.headDim, true, true, true};
}

class GpuComponentsBackward : public testing::TestWithParam<ComponentCase> {};

TEST_P(GpuComponentsBackward, MatchesTheReference) {
  SKIP_WITHOUT_GPU();
  const ComponentCase &c = GetParam();
  const attn::Attention &attention = attentionFor(*c.pattern, componentTraining(c));
  ASSERT_TRUE(attention.options().componentsBackward);
  Problem p(c, attention.bundle());
  attn::BlockLayout layout = attention.layout(p.problem(), p.tensors.device);
  EXPECT_EQ(layout.componentHeads(), expectedComponentHeads(attention.bundle(), c.heads));
  attn::DeviceBuffer lseBuffer(c.batch * c.heads * c.seqQ * sizeof(float));
  auto [o, lse] = p.forward(attention, layout, lseBuffer);
  std::vector<int64_t> rows = attnc::test::rowsToCompare(c.seqQ, p.rng);
  DeviceTensor dO =
      outputGradient(c.memory, c.dtype, c.batch, c.heads, c.seqQ, c.headDim, rows, p.rng);
  DeviceTensor grads[3];
  p.backward(attention, layout, o, lseBuffer, dO, grads);
  expectNoNaN(grads);

  attnc::interp::Interpreter reference =
      attnc::test::makeInterpreter(*p.file.ast.patterns.front(),
                                   {c.heads, c.seqQ, c.seqK, c.headDim}, p.tensors.host.host,
                                   definesOf(*c.pattern));
  attnc::test::ReferenceGradients expected = attnc::test::referenceBackward(
      reference, {c.batch, c.heads, c.kvHeads, c.seqQ, c.seqK, c.headDim},
      {p.q.values.data(), p.k.values.data(), p.v.values.data()}, dO.values.data(), rows);
  const std::vector<double> *references[] = {&expected.dq, &expected.dk, &expected.dv};
  for (int g = 0; g < 3; ++g)
    EXPECT_LE(relativeError(grads[g].values, *references[g]), gradientTolerance(c.dtype))
        << kGradientNames[g] << " against the float64 reference";
}

/// (batch, heads, key/value heads, Nq, Nk): one query, lengths below a tile,
/// not multiples of the stride or the tiles, MHA and GQA, fewer and more
/// queries than keys.
constexpr int64_t kBackwardShapes[][5] = {{2, 4, 4, 1, 1},       {2, 4, 2, 17, 17},
                                          {2, 4, 4, 1000, 1000}, {1, 4, 2, 4133, 4133},
                                          {2, 4, 2, 300, 1000},  {1, 2, 1, 1000, 300}};

std::vector<ComponentCase> componentBackwardCases() {
  std::vector<ComponentCase> cases;
  for (const ComponentPattern &pattern : kPatterns)
    if (pattern.usesComponents)
      for (attn::DType dtype : kDTypes)
        for (int headDim : kHeadDims)
          for (const auto &s : kBackwardShapes)
            cases.push_back({&pattern, dtype, headDim, s[0], s[1], s[2], s[3], s[4]});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Patterns, GpuComponentsBackward,
                         testing::ValuesIn(componentBackwardCases()), testName);

class GpuComponentsBackwardVsOwnTiles : public testing::TestWithParam<ComponentCase> {};

/// The same gradients, within rounding, as the backward over the set's own
/// tiles after the same component forward; and bit-identical from run to run.
TEST_P(GpuComponentsBackwardVsOwnTiles, SameGradientsWithinRounding) {
  SKIP_WITHOUT_GPU();
  const ComponentCase &c = GetParam();
  const attn::Attention &with = attentionFor(*c.pattern, componentTraining(c));
  const attn::Attention &without = attentionFor(*c.pattern, {c.dtype, c.headDim, true, true});
  ASSERT_TRUE(with.options().componentsBackward);
  ASSERT_FALSE(without.options().componentsBackward);
  Problem p(c, with.bundle());
  attn::BlockLayout layout = with.layout(p.problem(), p.tensors.device);
  attn::BlockLayout ownLayout = without.layout(p.problem(), p.tensors.device);
  attn::DeviceBuffer lseBuffer(c.batch * c.heads * c.seqQ * sizeof(float));
  auto [o, lse] = p.forward(with, layout, lseBuffer);
  DeviceTensor dO = randomTensor(c.memory, c.dtype, c.batch, c.heads, c.seqQ, c.headDim, p.rng);
  DeviceTensor grads[3], again[3], own[3];
  std::vector<std::vector<uint16_t>> bits = p.backward(with, layout, o, lseBuffer, dO, grads);
  EXPECT_TRUE(p.backward(with, layout, o, lseBuffer, dO, again) == bits)
      << "a second run differs in some bit";
  p.backward(without, ownLayout, o, lseBuffer, dO, own);
  expectNoNaN(grads);
  for (int g = 0; g < 3; ++g)
    EXPECT_LE(relativeError(grads[g].values, own[g].values), attnc::test::oTolerance(c.dtype))
        << kGradientNames[g] << " through the components vs through the set's own tiles";
}

std::vector<ComponentCase> componentBackwardOwnTileCases() {
  std::vector<ComponentCase> cases;
  for (const ComponentPattern &pattern : kPatterns)
    if (pattern.usesComponents)
      for (attn::DType dtype : kDTypes)
        for (Memory memory : {Memory::Bhnd, Memory::Bnhd})
          cases.push_back({&pattern, dtype, 128, 2, 4, 2, 1000, 1000, memory});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Patterns, GpuComponentsBackwardVsOwnTiles,
                         testing::ValuesIn(componentBackwardOwnTileCases()), testName);

void warmAll() {
  static bool warmed = false;
  if (warmed || !attn::gpuAvailable())
    return;
  warmed = true;
  std::vector<std::pair<const ComponentPattern *, KernelChoice>> kernels;
  for (const ComponentCase &c : referenceCases())
    kernels.push_back({c.pattern, {c.dtype, c.headDim, true, false}});
  for (const ComponentCase &c : ownTileCases())
    kernels.push_back({c.pattern, {c.dtype, c.headDim, false, false}});
  for (const ComponentCase &c : backwardCases())
    for (bool components : {true, false})
      kernels.push_back({c.pattern, {c.dtype, c.headDim, components, true}});
  for (const ComponentCase &c : componentBackwardCases())
    kernels.push_back({c.pattern, componentTraining(c)});
  for (const ComponentCase &c : componentBackwardOwnTileCases())
    kernels.push_back({c.pattern, {c.dtype, c.headDim, true, true}});
  std::string arch = "sm_" + std::to_string(attn::deviceInfo().computeCapability);
  std::vector<std::function<attn::CompileRequest()>> requests;
  for (const auto &[pattern, choice] : kernels)
    requests.push_back([pattern = pattern, choice = choice, arch] {
      return attn::kernelCompileRequest(bundleOf(*pattern), choice.dtype, choice.headDim, arch,
                                        optionsOf(choice));
    });
  attnc::test::compileInParallel(requests);
}

} // namespace
