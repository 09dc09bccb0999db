#include "RuntimeTestSupport.h"

#include "attn/Error.h"
#include "attn/Nvrtc.h"

#include <gtest/gtest.h>

using namespace attn;
using attn::testing::fillKernel;

namespace {

bool isElf(const std::string &bytes) { return bytes.rfind("\x7f" "ELF", 0) == 0; }

TEST(Nvrtc, ReportsItsVersion) {
  std::string version = nvrtcVersion();
  EXPECT_NE(version.find('.'), std::string::npos) << version;
}

TEST(Nvrtc, CompilesPtxForSm80) {
  Binary ptx = compileWithNvrtc(fillKernel("sm_80", BinaryKind::Ptx));
  EXPECT_EQ(ptx.kind, BinaryKind::Ptx);
  EXPECT_NE(ptx.bytes.find(".target sm_80"), std::string::npos);
  EXPECT_NE(ptx.bytes.find(".entry fill"), std::string::npos);
}

TEST(Nvrtc, CompilesCubinForSm80AndSm90a) {
  for (const char *arch : {"sm_80", "sm_90a"}) {
    Binary cubin = compileWithNvrtc(fillKernel(arch, BinaryKind::Cubin));
    EXPECT_EQ(cubin.kind, BinaryKind::Cubin);
    EXPECT_TRUE(isElf(cubin.bytes)) << arch;
  }
}

TEST(Nvrtc, PassesTheDefaultOptions) {
  std::vector<std::string> options = nvrtcOptions(fillKernel("sm_90a", BinaryKind::Ptx));
  ASSERT_GE(options.size(), 5u);
  EXPECT_EQ(options[0], "-std=c++17");
  EXPECT_EQ(options[1], "-arch=compute_90a");
  EXPECT_EQ(options[3], options[2] + "/cccl");
  EXPECT_EQ(options[4], "--no-cache");
}

// The message of the attn::Error that compiling `request` throws.
std::string compileError(const CompileRequest &request) {
  try {
    compileWithNvrtc(request);
  } catch (const Error &error) {
    return error.what();
  }
  ADD_FAILURE() << "compiling a broken kernel succeeded";
  return "";
}

TEST(Nvrtc, SyntaxErrorCarriesTheLogAndLine) {
  CompileRequest request = fillKernel("sm_80", BinaryKind::Ptx);
  request.source = "extern \"C\" __global__ void broken(int *out) {\n"
                   "  out[0] = 1;\n"
                   "  out[1] = undeclared_name;\n"
                   "}\n";
  std::string message = compileError(request);
  EXPECT_NE(message.find("fill.cu(3)"), std::string::npos) << message;
  EXPECT_NE(message.find("undeclared_name"), std::string::npos) << message;
}

// An error inside generated code is followed by the marker of that code, which
// names the pattern statement it came from; code before any marker gets none.
TEST(Nvrtc, ErrorsInMarkedCodeNameThePatternStatement) {
  CompileRequest request = fillKernel("sm_80", BinaryKind::Ptx);
  request.source = "__device__ int unmarked() { return first_unknown; }\n"
                   "// attnc: attnc_p_bias, from p.pattern:4:3\n"
                   "__device__ float attnc_p_bias(int j) {\n"
                   "  return second_unknown;\n"
                   "}\n";
  std::string message = compileError(request);
  std::size_t first = message.find("fill.cu(1)");
  std::size_t second = message.find("fill.cu(4)");
  ASSERT_NE(first, std::string::npos) << message;
  ASSERT_NE(second, std::string::npos) << message;
  std::string note = "note: in attnc_p_bias, from p.pattern:4:3";
  std::size_t noted = message.find(note);
  ASSERT_NE(noted, std::string::npos) << message;
  EXPECT_GT(noted, second) << message;
  EXPECT_EQ(message.find(note, noted + 1), std::string::npos) << message;
}

TEST(Nvrtc, RejectsAMalformedArchitecture) {
  for (const char *arch : {"80", "sm_", "sm_90x", "compute_80"})
    EXPECT_THROW(nvrtcOptions(fillKernel(arch, BinaryKind::Cubin)), Error) << arch;
}

} // namespace
