// The .npy reader and writer of `attnc run` (tools/attnc/Npy.h): what NumPy
// writes is read, and every malformed file is refused with a message that
// names it. The files are built byte by byte here, so no Python is needed.
#include "Npy.h"

#include "attnc/frontend/Frontend.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

using namespace attnc;

namespace {

// An .npy file of format `major`.0 with this header text (padded as NumPy
// pads it) and these data bytes.
std::string npyFile(int major, const std::string &dict, const std::string &data) {
  std::size_t preamble = major == 1 ? 10 : 12;
  std::string header = dict;
  header.append(63 - (preamble + header.size()) % 64, ' ');
  header += '\n';
  std::string bytes = "\x93NUMPY";
  bytes += static_cast<char>(major);
  bytes += '\0';
  for (std::size_t k = 0; k < preamble - 8; ++k)
    bytes += static_cast<char>((header.size() >> (8 * k)) & 0xff);
  return bytes + header + data;
}

std::string dictFor(const std::string &descr, const std::string &shape,
                    const std::string &fortran = "False") {
  return "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape +
         ", }";
}

// The message parse fails with, or "" when it succeeds.
std::string parseError(const std::string &bytes) {
  llvm::Expected<npy::Array> array = npy::parse(bytes, "x.npy");
  if (array)
    return "";
  return llvm::toString(array.takeError());
}

TEST(Npy, WritesWhatNumPyWrites) {
  std::string bytes = npy::encodeF32({2, 3}, std::vector<float>(6, 1.0f));
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  std::size_t headerLength = static_cast<unsigned char>(bytes[8]) +
                             256 * static_cast<unsigned char>(bytes[9]);
  EXPECT_EQ((10 + headerLength) % 64, 0u) << "the data is 64-byte aligned";
  std::string header = bytes.substr(10, headerLength);
  EXPECT_EQ(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0), 0u);
  EXPECT_EQ(header.back(), '\n');
  EXPECT_EQ(bytes.size(), 10 + headerLength + 6 * sizeof(float));
  EXPECT_NE(npy::encodeF32({5}, std::vector<float>(5)).find("'shape': (5,), }"),
            std::string::npos);
  EXPECT_NE(npy::encodeF32({}, {0.5f}).find("'shape': (), }"), std::string::npos);
}

TEST(Npy, RoundTripOfEveryRank) {
  for (const std::vector<int64_t> &shape :
       std::vector<std::vector<int64_t>>{{}, {3}, {2, 3}, {1, 2, 3, 4}, {2, 1, 1, 2, 1}}) {
    int64_t count = 1;
    for (int64_t dim : shape)
      count *= dim;
    std::vector<float> values;
    for (int64_t e = 0; e < count; ++e)
      values.push_back(0.25f * e - 1.0f);
    llvm::Expected<npy::Array> array = npy::parse(npy::encodeF32(shape, values), "x.npy");
    ASSERT_TRUE(!!array) << llvm::toString(array.takeError());
    EXPECT_EQ(array->dtype, npy::DType::F32);
    EXPECT_EQ(array->shape, shape);
    EXPECT_EQ(array->elements(), count);
    ASSERT_EQ(array->data.size(), values.size() * sizeof(float));
    EXPECT_EQ(std::memcmp(array->data.data(), values.data(), array->data.size()), 0);
  }
}

TEST(Npy, RoundTripThroughAFile) {
  std::string path = (std::filesystem::temp_directory_path() / "attnc-npy-test.npy").string();
  std::vector<float> values = {1.5f, -2.0f};
  if (llvm::Error err = writeFile(path, npy::encodeF32({1, 2}, values)))
    FAIL() << llvm::toString(std::move(err));
  llvm::Expected<npy::Array> array = npy::readFile(path);
  std::remove(path.c_str());
  ASSERT_TRUE(!!array) << llvm::toString(array.takeError());
  EXPECT_EQ(array->shape, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(std::memcmp(array->data.data(), values.data(), 8), 0);
}

TEST(Npy, ReadsVersionsTwoAndThreeAndEveryDType) {
  struct Case {
    const char *descr;
    npy::DType dtype;
    std::size_t bytes;
  };
  for (int major : {1, 2, 3})
    for (Case c : {Case{"<f2", npy::DType::F16, 2}, Case{"<f4", npy::DType::F32, 4},
                   Case{"<i4", npy::DType::I32, 4}, Case{"<i8", npy::DType::I64, 8}}) {
      std::string data(3 * c.bytes, '\x01');
      llvm::Expected<npy::Array> array =
          npy::parse(npyFile(major, dictFor(c.descr, "(3,)"), data), "x.npy");
      ASSERT_TRUE(!!array) << llvm::toString(array.takeError());
      EXPECT_EQ(array->dtype, c.dtype);
      EXPECT_EQ(array->shape, std::vector<int64_t>{3});
      EXPECT_EQ(array->data, data);
    }
}

TEST(Npy, ReadsAnyKeyOrderAndQuoting) {
  llvm::Expected<npy::Array> array = npy::parse(
      npyFile(1, "{\"shape\":(2,2),\"fortran_order\":False,\"descr\":\"<i4\"}", std::string(16, 0)),
      "x.npy");
  ASSERT_TRUE(!!array) << llvm::toString(array.takeError());
  EXPECT_EQ(array->shape, (std::vector<int64_t>{2, 2}));
}

TEST(Npy, NotAnNpyFile) {
  EXPECT_EQ(parseError("hello, world"),
            "'x.npy': not a NumPy .npy file (it does not start with \"\\x93NUMPY\")");
  EXPECT_EQ(parseError(""),
            "'x.npy': not a NumPy .npy file (it does not start with \"\\x93NUMPY\")");
}

TEST(Npy, UnsupportedVersion) {
  std::string v4 = npyFile(1, dictFor("<f4", "(1,)"), std::string(4, 0));
  v4[6] = 4;
  EXPECT_EQ(parseError(v4),
            "'x.npy': unsupported .npy format version 4.0 (accepted: 1.0, 2.0, 3.0)");
  std::string v11 = npyFile(1, dictFor("<f4", "(1,)"), std::string(4, 0));
  v11[7] = 1;
  EXPECT_EQ(parseError(v11),
            "'x.npy': unsupported .npy format version 1.1 (accepted: 1.0, 2.0, 3.0)");
}

TEST(Npy, UnsupportedDType) {
  for (const char *descr : {">f4", "<f8", "|b1", "<u4"})
    EXPECT_EQ(parseError(npyFile(1, dictFor(descr, "(1,)"), std::string(8, 0))),
              std::string("'x.npy': unsupported dtype '") + descr +
                  "' (accepted: '<f2', '<f4', '<i4', '<i8')");
}

TEST(Npy, FortranOrder) {
  EXPECT_EQ(parseError(npyFile(1, dictFor("<f4", "(2, 2)", "True"), std::string(16, 0))),
            "'x.npy': Fortran-ordered arrays are not supported; save a C-ordered copy "
            "(numpy.ascontiguousarray)");
}

TEST(Npy, TruncatedOrTrailingData) {
  EXPECT_EQ(parseError(npyFile(1, dictFor("<f4", "(2, 3)"), std::string(20, 0))),
            "'x.npy': truncated data: expected 24 bytes, got 20");
  EXPECT_EQ(parseError(npyFile(1, dictFor("<i8", "(2,)"), std::string(17, 0))),
            "'x.npy': trailing data: expected 16 bytes, got 17");
}

TEST(Npy, TruncatedHeader) {
  std::string whole = npyFile(1, dictFor("<f4", "(1,)"), std::string(4, 0));
  EXPECT_EQ(parseError(whole.substr(0, 7)),
            "'x.npy': truncated header: the file ends within the version");
  EXPECT_EQ(parseError(whole.substr(0, 9)),
            "'x.npy': truncated header: the file ends within the header length");
  EXPECT_EQ(parseError(whole.substr(0, 40)),
            "'x.npy': truncated header: expected 118 bytes, got 30");
}

TEST(Npy, MalformedHeader) {
  struct Case {
    std::string dict, message;
  };
  for (const Case &c : std::vector<Case>{
           {"'descr': '<f4'}", "expected '{'"},
           {"{'descr': '<f4', 'fortran_order': False}",
            "the header needs 'descr', 'fortran_order' and 'shape'"},
           {dictFor("<f4", "(2, -1)"), "expected a non-negative integer in 'shape'"},
           {dictFor("<f4", "(2 3)"), "expected ',' or ')' in 'shape'"},
           {dictFor("<f4", "[2, 3]"), "expected '('"},
           {dictFor("<f4", "(1,)", "false"), "expected True or False for 'fortran_order'"},
           {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}",
            "unknown key 'x'"},
           {"{'descr' '<f4'}", "expected ':'"},
           {"{'descr: '<f4'}", "expected ':'"},
           {"{'descr': '<f4}", "unterminated string"},
           {"{descr: '<f4'}", "expected a quoted string"},
           {"{'descr': '<f4' 'shape': (1,)}", "expected ',' or '}' after the value of 'descr'"},
           {dictFor("<f4", "(1,)") + " x", "unexpected text after the closing '}'"},
           {dictFor("<f4", "(99999999999999999999,)"),
            "expected a non-negative integer in 'shape'"},
           {dictFor("<f4", "(4611686018427387904, 4)"),
            "the shape [4611686018427387904, 4] is too large"},
       })
    EXPECT_EQ(parseError(npyFile(1, c.dict, "")), "'x.npy': malformed header: " + c.message)
        << c.dict;
}

TEST(Npy, UnreadableFile) {
  llvm::Expected<npy::Array> array = npy::readFile("/nonexistent/q.npy");
  ASSERT_FALSE(!!array);
  EXPECT_EQ(llvm::toString(array.takeError()),
            "cannot read '/nonexistent/q.npy': No such file or directory");
}

} // namespace
