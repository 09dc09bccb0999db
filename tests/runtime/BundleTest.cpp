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
  return bundle;
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
  EXPECT_EQ(text.substr(0, text.find("source ")), "attnc-bundle 2\n"
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
                                                  "tensor ids i64 Nq\n");
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
}

TEST(Bundle, RoundTripOfEmptyFields) {
  Bundle empty;
  EXPECT_EQ(written(empty), "attnc-bundle 2\npattern\norigin\nparams\nlayout_kernel\n"
                            "forward_kernel\nbackward_dq_kernel\nbackward_dkdv_kernel\n"
                            "reads_batch 0\nsource 0\n");
  Bundle back = read(written(empty));
  EXPECT_EQ(back.pattern, "");
  EXPECT_EQ(back.params, "");
  EXPECT_EQ(back.source, "");
  EXPECT_FALSE(back.readsBatch);
  EXPECT_TRUE(back.tensors.empty());
}

TEST(Bundle, RefusesToWriteLineBreaksInValues) {
  Bundle bundle = sampleBundle();
  bundle.origin = "two\nlines";
  EXPECT_THROW(written(bundle), Error);
}

TEST(Bundle, BadMagicOrVersion) {
  EXPECT_EQ(readError(""), "my.bundle: empty file, not an attnc bundle");
  EXPECT_EQ(readError("\x7f" "ELF..."),
            "my.bundle:1: not an attnc bundle (expected 'attnc-bundle 2' on the first line)");
  EXPECT_EQ(readError("attnc-bundle 1\nsource 0\n"),
            "my.bundle:1: unsupported bundle version '1' (this runtime reads version 2)");
}

TEST(Bundle, UnknownOrDuplicateKey) {
  EXPECT_EQ(readError(withLine("colour blue")), "my.bundle:13: unknown key 'colour'");
  EXPECT_EQ(readError(withLine("pattern again")), "my.bundle:13: duplicate key 'pattern'");
}

TEST(Bundle, TruncatedOrTrailingSource) {
  std::string text = written(sampleBundle());
  std::size_t size = sampleBundle().source.size();
  EXPECT_EQ(readError(text.substr(0, text.size() - 3)),
            "my.bundle:13: truncated source: expected " + std::to_string(size) + " bytes, got " +
                std::to_string(size - 3));
  EXPECT_EQ(readError(text + "x"), "my.bundle:13: unexpected data after the " +
                                       std::to_string(size) + " bytes of source");
  EXPECT_EQ(readError(text.substr(0, text.find("source "))),
            "my.bundle:12: truncated: no 'source' line");
}

TEST(Bundle, BadNumbers) {
  EXPECT_EQ(readError("attnc-bundle 2\nsource 12x\n"),
            "my.bundle:2: bad number '12x' for the source length");
  EXPECT_EQ(readError("attnc-bundle 2\nsource -1\n"),
            "my.bundle:2: bad number '-1' for the source length");
  EXPECT_EQ(readError("attnc-bundle 2\nsource\n"),
            "my.bundle:2: bad number '' for the source length");
  EXPECT_EQ(readError("attnc-bundle 2\nsource 99999999999999999999\n"),
            "my.bundle:2: bad number '99999999999999999999' for the source length");
  EXPECT_EQ(readError(withLine("tensor t i32 Nq 4k")),
            "my.bundle:13: bad number '4k' for a tensor dimension");
  EXPECT_EQ(readError("attnc-bundle 2\nreads_batch yes\nsource 0\n"),
            "my.bundle:2: bad number 'yes' for reads_batch (expected 0 or 1)");
}

TEST(Bundle, MalformedTensorLines) {
  EXPECT_EQ(readError(withLine("tensor t u8 Nq")),
            "my.bundle:13: unknown element type 'u8' (expected i32, i64 or f32)");
  EXPECT_EQ(readError(withLine("tensor t")),
            "my.bundle:13: malformed tensor line (expected 'tensor NAME TYPE DIM...')");
  EXPECT_EQ(readError(withLine("tensor t f32")), "my.bundle:13: tensor 't' has no dimensions");
}

} // namespace
