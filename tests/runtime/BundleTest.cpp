#include "attn/Bundle.h"
#include "attn/Error.h"

#include <gtest/gtest.h>

#include <sstream>

using namespace attn;

namespace {

Bundle sampleBundle() {
  Bundle bundle;
  bundle.pattern = "document";
  bundle.origin = "patterns/my document.pattern";
  bundle.params = "window=128 cap=30.5";
  // Lines that look like keys must come back as source, byte for byte.
  bundle.source = "#include \"attnc_builtins.cuh\"\nsource 3\ntensor x i32 4\n\n";
  bundle.layoutKernel = "attnc_document_layout";
  bundle.forwardKernel = "attnc_document_forward";
  bundle.backwardDqKernel = "attnc_document_backward_dq";
  bundle.backwardDkdvKernel = "attnc_document_backward_dkdv";
  bundle.tensors = {
      {"doc", ElementType::I32, {{TensorDim::Kind::Nk, 0}}},
      {"weights", ElementType::F32,
       {{TensorDim::Kind::H, 0}, {TensorDim::Kind::Constant, 7}, {TensorDim::Kind::D, 0}}},
      {"ids", ElementType::I64, {{TensorDim::Kind::Nq, 0}}},
  };
  bundle.readsBatch = true;
  bundle.headSets = {"local", "strided", "local"};
  BundleComponent strided;
  strided.set = "strided";
  strided.form = "residue_diagonal";
  strided.aligned = strided.causal = strided.exact = true;
  strided.minDistance = 256;
  strided.modulus = 128;
  strided.residue = 3;
  strided.classes = 128;
  strided.queryMap = {0, 1, 1, 128, 0};
  strided.keyMap = {-3, 1, 1, 128, 0};
  strided.attends = "attnc_document_component0_attends";
  strided.forwardKernel = "attnc_document_component0_forward";
  strided.backwardDqKernel = "attnc_document_component0_backward_dq";
  strided.backwardDkdvKernel = "attnc_document_component0_backward_dkdv";
  BundleComponent summary;
  summary.index = 1;
  summary.form = "column_range";
  summary.window = 512;
  summary.earlierBlocks = 64;
  summary.modulus = 64;
  summary.lo = 48;
  summary.hi = 64;
  summary.keyMap = {48, 0, 16, 64, 1};
  summary.queryMap = {0, 0, 1, 1, 1};
  summary.attends = "attnc_document_component1_attends";
  summary.forwardKernel = "attnc_document_component1_forward";
  summary.backwardDqKernel = "attnc_document_component1_backward_dq";
  summary.backwardDkdvKernel = "attnc_document_component1_backward_dkdv";
  bundle.components = {strided, summary};
  return bundle;
}

void expectSameComponents(const std::vector<BundleComponent> &a,
                          const std::vector<BundleComponent> &b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].set, b[k].set);
    EXPECT_EQ(a[k].index, b[k].index);
    EXPECT_EQ(a[k].form, b[k].form);
    EXPECT_EQ(a[k].aligned, b[k].aligned);
    EXPECT_EQ(a[k].causal, b[k].causal);
    EXPECT_EQ(a[k].exact, b[k].exact);
    EXPECT_EQ(a[k].window, b[k].window);
    EXPECT_EQ(a[k].minDistance, b[k].minDistance);
    EXPECT_EQ(a[k].earlierBlocks, b[k].earlierBlocks);
    EXPECT_EQ(a[k].modulus, b[k].modulus);
    EXPECT_EQ(a[k].residue, b[k].residue);
    EXPECT_EQ(a[k].lo, b[k].lo);
    EXPECT_EQ(a[k].hi, b[k].hi);
    EXPECT_EQ(a[k].classes, b[k].classes);
    EXPECT_EQ(a[k].queryMap, b[k].queryMap);
    EXPECT_EQ(a[k].keyMap, b[k].keyMap);
    EXPECT_EQ(a[k].attends, b[k].attends);
    EXPECT_EQ(a[k].forwardKernel, b[k].forwardKernel);
    EXPECT_EQ(a[k].backwardDqKernel, b[k].backwardDqKernel);
    EXPECT_EQ(a[k].backwardDkdvKernel, b[k].backwardDkdvKernel);
  }
}

std::string written(const Bundle &bundle) {
  std::ostringstream os;
  writeBundle(bundle, os);
  return os.str();
}

Bundle read(const std::string &text) {
  std::istringstream is(text);
  return readBundle(is, "my.bundle");
}

// The message readBundle throws for `text`, or "" when it reads.
std::string readError(const std::string &text) {
  try {
    read(text);
  } catch (const Error &e) {
    return e.what();
  }
  return "";
}

// A well-formed bundle with `line` inserted before its source line.
std::string withLine(const std::string &line) {
  std::string text = written(sampleBundle());
  return text.insert(text.find("source "), line + "\n");
}

void expectSameTensors(const std::vector<BundleTensor> &a, const std::vector<BundleTensor> &b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t t = 0; t < a.size(); ++t) {
    EXPECT_EQ(a[t].name, b[t].name);
    EXPECT_EQ(a[t].type, b[t].type);
    ASSERT_EQ(a[t].dims.size(), b[t].dims.size());
    for (std::size_t d = 0; d < a[t].dims.size(); ++d) {
      EXPECT_EQ(a[t].dims[d].kind, b[t].dims[d].kind);
      EXPECT_EQ(a[t].dims[d].value, b[t].dims[d].value);
    }
  }
}

TEST(Bundle, ElementTypes) {
  EXPECT_STREQ(elementTypeName(ElementType::I32), "i32");
  EXPECT_STREQ(elementTypeName(ElementType::I64), "i64");
  EXPECT_STREQ(elementTypeName(ElementType::F32), "f32");
  EXPECT_EQ(elementBytes(ElementType::I32), 4u);
  EXPECT_EQ(elementBytes(ElementType::I64), 8u);
  EXPECT_EQ(elementBytes(ElementType::F32), 4u);
}

TEST(Bundle, WritesTheDocumentedFormat) {
  std::string text = written(sampleBundle());
  EXPECT_EQ(text.substr(0, text.find("source ")), "attnc-bundle 4\n"
                                                  "pattern document\n"
                                                  "origin patterns/my document.pattern\n"
                                                  "params window=128 cap=30.5\n"
                                                  "layout_kernel attnc_document_layout\n"
                                                  "forward_kernel attnc_document_forward\n"
                                                  "backward_dq_kernel attnc_document_backward_dq\n"
                                                  "backward_dkdv_kernel "
                                                  "attnc_document_backward_dkdv\n"
                                                  "reads_batch 1\n"
                                                  "tensor doc i32 Nk\n"
                                                  "tensor weights f32 H 7 D\n"
                                                  "tensor ids i64 Nq\n"
                                                  "heads local strided local\n"
                                                  "component set=strided index=0 "
                                                  "form=residue_diagonal aligned=1 causal=1 "
                                                  "exact=1 window=- min_distance=256 "
                                                  "earlier_blocks=- modulus=128 residue=3 lo=- "
                                                  "hi=- classes=128 query_map=0,1,1,128,0 "
                                                  "key_map=-3,1,1,128,0 "
                                                  "attends=attnc_document_component0_attends "
                                                  "forward_kernel="
                                                  "attnc_document_component0_forward "
                                                  "backward_dq_kernel="
                                                  "attnc_document_component0_backward_dq "
                                                  "backward_dkdv_kernel="
                                                  "attnc_document_component0_backward_dkdv\n"
                                                  "component set= index=1 form=column_range "
                                                  "aligned=0 causal=0 exact=0 window=512 "
                                                  "min_distance=- earlier_blocks=64 "
                                                  "modulus=64 residue=- lo=48 hi=64 classes=1 "
                                                  "query_map=0,0,1,1,1 key_map=48,0,16,64,1 "
                                                  "attends=attnc_document_component1_attends "
                                                  "forward_kernel="
                                                  "attnc_document_component1_forward "
                                                  "backward_dq_kernel="
                                                  "attnc_document_component1_backward_dq "
                                                  "backward_dkdv_kernel="
                                                  "attnc_document_component1_backward_dkdv\n");
}

TEST(Bundle, RoundTrip) {
  Bundle original = sampleBundle();
  Bundle back = read(written(original));
  EXPECT_EQ(back.pattern, original.pattern);
  EXPECT_EQ(back.origin, original.origin);
  EXPECT_EQ(back.params, original.params);
  EXPECT_EQ(back.source, original.source);
  EXPECT_EQ(back.layoutKernel, original.layoutKernel);
  EXPECT_EQ(back.forwardKernel, original.forwardKernel);
  EXPECT_EQ(back.backwardDqKernel, original.backwardDqKernel);
  EXPECT_EQ(back.backwardDkdvKernel, original.backwardDkdvKernel);
  EXPECT_EQ(back.readsBatch, original.readsBatch);
  expectSameTensors(back.tensors, original.tensors);
  EXPECT_EQ(back.headSets, original.headSets);
  expectSameComponents(back.components, original.components);
  EXPECT_EQ(headSet(back, 4), "strided");
  EXPECT_EQ(headSet(back, 5), "local");
}

TEST(Bundle, RoundTripOfEmptyFields) {
  Bundle empty;
  EXPECT_EQ(written(empty), "attnc-bundle 4\npattern\norigin\nparams\nlayout_kernel\n"
                            "forward_kernel\nbackward_dq_kernel\nbackward_dkdv_kernel\n"
                            "reads_batch 0\nheads\nsource 0\n");
  Bundle back = read(written(empty));
  EXPECT_EQ(back.pattern, "");
  EXPECT_EQ(back.params, "");
  EXPECT_EQ(back.source, "");
  EXPECT_FALSE(back.readsBatch);
  EXPECT_TRUE(back.tensors.empty());
  EXPECT_TRUE(back.headSets.empty());
  EXPECT_TRUE(back.components.empty());
  EXPECT_EQ(headSet(back, 3), "");
}

TEST(Bundle, RefusesToWriteLineBreaksInValues) {
  Bundle bundle = sampleBundle();
  bundle.origin = "two\nlines";
  EXPECT_THROW(written(bundle), Error);
}

TEST(Bundle, BadMagicOrVersion) {
  EXPECT_EQ(readError(""), "my.bundle: empty file, not an attnc bundle");
  EXPECT_EQ(readError("\x7f" "ELF..."),
            "my.bundle:1: not an attnc bundle (expected 'attnc-bundle 4' on the first line)");
  EXPECT_EQ(readError("attnc-bundle 1\nsource 0\n"),
            "my.bundle:1: unsupported bundle version '1' (this runtime reads version 4; compile the pattern again with this attnc)");
}

TEST(Bundle, UnknownOrDuplicateKey) {
  EXPECT_EQ(readError(withLine("colour blue")), "my.bundle:16: unknown key 'colour'");
  EXPECT_EQ(readError(withLine("pattern again")), "my.bundle:16: duplicate key 'pattern'");
}

TEST(Bundle, TruncatedOrTrailingSource) {
  std::string text = written(sampleBundle());
  std::size_t size = sampleBundle().source.size();
  EXPECT_EQ(readError(text.substr(0, text.size() - 3)),
            "my.bundle:16: truncated source: expected " + std::to_string(size) + " bytes, got " +
                std::to_string(size - 3));
  EXPECT_EQ(readError(text + "x"), "my.bundle:16: unexpected data after the " +
                                       std::to_string(size) + " bytes of source");
  EXPECT_EQ(readError(text.substr(0, text.find("source "))),
            "my.bundle:15: truncated: no 'source' line");
}

TEST(Bundle, BadNumbers) {
  EXPECT_EQ(readError("attnc-bundle 4\nsource 12x\n"),
            "my.bundle:2: bad number '12x' for the source length");
  EXPECT_EQ(readError("attnc-bundle 4\nsource -1\n"),
            "my.bundle:2: bad number '-1' for the source length");
  EXPECT_EQ(readError("attnc-bundle 4\nsource\n"),
            "my.bundle:2: bad number '' for the source length");
  EXPECT_EQ(readError("attnc-bundle 4\nsource 99999999999999999999\n"),
            "my.bundle:2: bad number '99999999999999999999' for the source length");
  EXPECT_EQ(readError(withLine("tensor t i32 Nq 4k")),
            "my.bundle:16: bad number '4k' for a tensor dimension");
  EXPECT_EQ(readError("attnc-bundle 4\nreads_batch yes\nsource 0\n"),
            "my.bundle:2: bad number 'yes' for reads_batch (expected 0 or 1)");
}

TEST(Bundle, MalformedTensorLines) {
  EXPECT_EQ(readError(withLine("tensor t u8 Nq")),
            "my.bundle:16: unknown element type 'u8' (expected i32, i64 or f32)");
  EXPECT_EQ(readError(withLine("tensor t")),
            "my.bundle:16: malformed tensor line (expected 'tensor NAME TYPE DIM...')");
  EXPECT_EQ(readError(withLine("tensor t f32")), "my.bundle:16: tensor 't' has no dimensions");
}

TEST(Bundle, MalformedComponentLines) {
  std::string valid = written(sampleBundle());
  std::size_t line = valid.find("component set=strided");
  std::string strided = valid.substr(line, valid.find('\n', line) - line);
  auto replaced = [&](const std::string &from, const std::string &to) {
    std::string text = strided;
    return text.replace(text.find(from), from.size(), to);
  };
  EXPECT_EQ(readError(withLine(replaced("form=residue_diagonal", "form=spiral"))),
            "my.bundle:16: unknown component form 'spiral' (expected contiguous, "
            "residue_diagonal, column_range or same_block)");
  EXPECT_EQ(readError(withLine(replaced("query_map=0,1,1,128,0", "query_map=0,1,0,128,0"))),
            "my.bundle:16: bad tile map '0,1,0,128,0' for a component query_map (expected "
            "base,base_step,inner,outer_stride,inner_stride with inner and outer_stride at "
            "least 1)");
  EXPECT_EQ(readError(withLine(replaced("key_map=-3,1,1,128,0", "key_map=-3,1,1"))),
            "my.bundle:16: bad tile map '-3,1,1' for a component key_map (expected "
            "base,base_step,inner,outer_stride,inner_stride with inner and outer_stride at "
            "least 1)");
  EXPECT_EQ(readError(withLine(replaced("residue=3", "residue=x"))),
            "my.bundle:16: bad number 'x' for a component residue");
  EXPECT_EQ(readError(withLine(replaced("min_distance=256", "min_distance=2x"))),
            "my.bundle:16: bad number '2x' for a component min_distance");
  EXPECT_EQ(readError(withLine(replaced(" earlier_blocks=-", ""))),
            "my.bundle:16: component line without 'earlier_blocks='");
  EXPECT_EQ(readError(withLine(replaced("exact=1", "exact=2"))),
            "my.bundle:16: bad number '2' for component exact (expected 0 or 1)");
  EXPECT_EQ(readError(withLine(replaced("classes=128", "classes=0"))),
            "my.bundle:16: a component has at least one class, not 0");
  EXPECT_EQ(readError(withLine(replaced(" index=0", ""))),
            "my.bundle:16: component line without 'index='");
  EXPECT_EQ(readError(withLine(replaced("index=0", "index=0 index=1"))),
            "my.bundle:16: duplicate component field 'index'");
  EXPECT_EQ(readError(withLine(replaced("index=0", "colour=blue"))),
            "my.bundle:16: unknown component field 'colour=blue'");
  EXPECT_EQ(readError(withLine(replaced("attends=attnc_document_component0_attends", "attends="))),
            "my.bundle:16: a component without its attends function, forward kernel or "
            "backward kernels");
  EXPECT_EQ(readError(withLine(replaced("backward_dkdv_kernel=attnc_document_component0_backward_dkdv",
                                        "backward_dkdv_kernel="))),
            "my.bundle:16: a component without its attends function, forward kernel or "
            "backward kernels");
  EXPECT_EQ(readError(withLine(replaced(" backward_dq_kernel=attnc_document_component0_backward_dq",
                                        ""))),
            "my.bundle:16: component line without 'backward_dq_kernel='");
  EXPECT_EQ(readError(withLine("heads a b") ), "my.bundle:16: duplicate key 'heads'");
}

} // namespace
