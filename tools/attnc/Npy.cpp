//===- Npy.cpp - NumPy .npy files for attnc run ---------------------------===//
//
// The format (numpy.lib.format): the magic "\x93NUMPY", a major and a minor
// version byte, the header length (2 bytes little-endian in version 1.0, 4 in
// 2.0 and 3.0), then the header, a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces to a newline, then the raw elements.
//
//===----------------------------------------------------------------------===//
#include "Npy.h"

#include "attnc/frontend/Frontend.h"

#include "llvm/Support/SwapByteOrder.h"

#include <optional>

namespace attnc::npy {
namespace {

// Elements are kept and written as the host stores them.
static_assert(llvm::sys::IsLittleEndianHost, ".npy data is read as little-endian");

constexpr llvm::StringLiteral kMagic("\x93NUMPY");
struct DTypeInfo {
  DType dtype;
  const char *descr; // NumPy's array-protocol type string
  const char *name;
  std::size_t bytes;
};
// Indexed by DType.
constexpr DTypeInfo kDTypes[] = {{DType::F16, "<f2", "float16", 2},
                                 {DType::F32, "<f4", "float32", 4},
                                 {DType::I32, "<i4", "int32", 4},
                                 {DType::I64, "<i8", "int64", 8}};

const DTypeInfo &infoOf(DType dtype) { return kDTypes[static_cast<int>(dtype)]; }
// NumPy aligns the data to 64 bytes (the header is padded to fit).
constexpr std::size_t kAlignment = 64;

llvm::Error problem(llvm::StringRef name, const llvm::Twine &what) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "'" + name + "': " + what);
}

uint64_t readLittleEndian(llvm::StringRef bytes, std::size_t offset, std::size_t width) {
  uint64_t value = 0;
  for (std::size_t k = 0; k < width; ++k)
    value |= uint64_t(static_cast<unsigned char>(bytes[offset + k])) << (8 * k);
  return value;
}

/// The three entries of an .npy header.
struct Header {
  std::string descr;
  std::optional<bool> fortranOrder;
  std::optional<std::vector<int64_t>> shape;
};

/// Reads the dict literal of an .npy header; `error` says what went wrong
/// when a method returns false.
class HeaderParser {
public:
  explicit HeaderParser(llvm::StringRef text) : rest_(text) {}

  bool parse(Header &header) {
    if (!expect('{'))
      return false;
    while (!consume('}')) {
      std::string key;
      if (!parseString(key) || !expect(':') || !parseEntry(key, header))
        return false;
      if (!consume(',') && !peek('}'))
        return fail("expected ',' or '}' after the value of '" + key + "'");
    }
    skipSpace();
    if (!rest_.empty())
      return fail("unexpected text after the closing '}'");
    if (header.descr.empty() || !header.fortranOrder || !header.shape)
      return fail("the header needs 'descr', 'fortran_order' and 'shape'");
    return true;
  }

  const std::string &error() const { return error_; }

private:
  bool fail(const std::string &what) {
    error_ = what;
    return false;
  }

  void skipSpace() { rest_ = rest_.ltrim(); }

  bool peek(char c) {
    skipSpace();
    return rest_.starts_with(std::string(1, c));
  }

  bool consume(char c) {
    if (!peek(c))
      return false;
    rest_ = rest_.drop_front();
    return true;
  }

  bool expect(char c) {
    return consume(c) || fail(std::string("expected '") + c + "'");
  }

  bool parseEntry(const std::string &key, Header &header) {
    if (key == "descr")
      return parseString(header.descr);
    if (key == "fortran_order")
      return parseBool(header.fortranOrder);
    if (key == "shape")
      return parseShape(header.shape);
    return fail("unknown key '" + key + "'");
  }

  // Python's repr of a str: single or double quotes, no escapes in what
  // NumPy writes.
  bool parseString(std::string &out) {
    skipSpace();
    char quote = rest_.empty() ? 0 : rest_.front();
    if (quote != '\'' && quote != '"')
      return fail("expected a quoted string");
    std::size_t end = rest_.find(quote, 1);
    if (end == llvm::StringRef::npos)
      return fail("unterminated string");
    out = rest_.substr(1, end - 1).str();
    rest_ = rest_.drop_front(end + 1);
    return true;
  }

  bool parseBool(std::optional<bool> &out) {
    skipSpace();
    for (bool value : {true, false})
      if (rest_.consume_front(value ? "True" : "False")) {
        out = value;
        return true;
      }
    return fail("expected True or False for 'fortran_order'");
  }

  // "()", "(5,)", "(2, 3)": a trailing comma is allowed.
  bool parseShape(std::optional<std::vector<int64_t>> &out) {
    if (!expect('('))
      return false;
    std::vector<int64_t> shape;
    while (!consume(')')) {
      skipSpace();
      uint64_t dim = 0;
      if (rest_.consumeInteger(10, dim) || dim > uint64_t(INT64_MAX))
        return fail("expected a non-negative integer in 'shape'");
      shape.push_back(static_cast<int64_t>(dim));
      if (!consume(',') && !peek(')'))
        return fail("expected ',' or ')' in 'shape'");
    }
    out = std::move(shape);
    return true;
  }

  llvm::StringRef rest_;
  std::string error_;
};

std::optional<DType> dtypeFromDescr(llvm::StringRef descr) {
  for (const DTypeInfo &info : kDTypes)
    if (descr == info.descr)
      return info.dtype;
  return std::nullopt;
}

std::string acceptedDescrs() {
  std::string text;
  for (const DTypeInfo &info : kDTypes)
    text += std::string(text.empty() ? "" : ", ") + "'" + info.descr + "'";
  return text;
}

/// The element count times the element size, or nothing when it overflows.
std::optional<uint64_t> dataBytes(llvm::ArrayRef<int64_t> shape, DType dtype) {
  uint64_t bytes = dtypeBytes(dtype);
  for (int64_t dim : shape)
    if (__builtin_mul_overflow(bytes, uint64_t(dim), &bytes))
      return std::nullopt;
  return bytes;
}

/// Where the header starts and how long it is, from the preamble.
llvm::Error readPreamble(llvm::StringRef bytes, llvm::StringRef name, std::size_t &start,
                         std::size_t &length) {
  if (!bytes.starts_with(kMagic))
    return problem(name, "not a NumPy .npy file (it does not start with \"\\x93NUMPY\")");
  if (bytes.size() < kMagic.size() + 2)
    return problem(name, "truncated header: the file ends within the version");
  unsigned major = static_cast<unsigned char>(bytes[6]);
  unsigned minor = static_cast<unsigned char>(bytes[7]);
  if (major < 1 || major > 3 || minor != 0)
    return problem(name, llvm::Twine("unsupported .npy format version ") + llvm::Twine(major) +
                             "." + llvm::Twine(minor) + " (accepted: 1.0, 2.0, 3.0)");
  std::size_t width = major == 1 ? 2 : 4;
  start = 8 + width;
  if (bytes.size() < start)
    return problem(name, "truncated header: the file ends within the header length");
  length = readLittleEndian(bytes, 8, width);
  if (bytes.size() - start < length)
    return problem(name, "truncated header: expected " + llvm::Twine(length) + " bytes, got " +
                             llvm::Twine(bytes.size() - start));
  return llvm::Error::success();
}

/// "2, 3": the dims of a shape, comma-separated.
std::string joinDims(llvm::ArrayRef<int64_t> shape) {
  std::string text;
  for (std::size_t k = 0; k < shape.size(); ++k)
    text += (k ? ", " : "") + std::to_string(shape[k]);
  return text;
}

} // namespace

llvm::Expected<Array> parse(llvm::StringRef bytes, llvm::StringRef name) {
  std::size_t start = 0, length = 0;
  if (llvm::Error err = readPreamble(bytes, name, start, length))
    return err;
  Header header;
  HeaderParser parser(bytes.substr(start, length));
  if (!parser.parse(header))
    return problem(name, "malformed header: " + parser.error());
  std::optional<DType> dtype = dtypeFromDescr(header.descr);
  if (!dtype)
    return problem(name, "unsupported dtype '" + header.descr +
                             "' (accepted: " + acceptedDescrs() + ")");
  if (*header.fortranOrder)
    return problem(name, "Fortran-ordered arrays are not supported; save a C-ordered copy "
                         "(numpy.ascontiguousarray)");
  std::optional<uint64_t> expected = dataBytes(*header.shape, *dtype);
  if (!expected)
    return problem(name, "malformed header: the shape " + shapeText(*header.shape) +
                             " is too large");
  llvm::StringRef data = bytes.drop_front(start + length);
  if (data.size() < *expected)
    return problem(name, "truncated data: expected " + llvm::Twine(*expected) + " bytes, got " +
                             llvm::Twine(data.size()));
  if (data.size() > *expected)
    return problem(name, "trailing data: expected " + llvm::Twine(*expected) + " bytes, got " +
                             llvm::Twine(data.size()));
  return Array{*dtype, std::move(*header.shape), data.str()};
}

const char *dtypeDescr(DType dtype) { return infoOf(dtype).descr; }
const char *dtypeName(DType dtype) { return infoOf(dtype).name; }
std::size_t dtypeBytes(DType dtype) { return infoOf(dtype).bytes; }

int64_t Array::elements() const {
  int64_t count = 1;
  for (int64_t dim : shape)
    count *= dim;
  return count;
}

std::string shapeText(llvm::ArrayRef<int64_t> shape) { return "[" + joinDims(shape) + "]"; }

llvm::Expected<Array> readFile(const std::string &path) {
  llvm::Expected<std::string> bytes = attnc::readFile(path);
  if (!bytes)
    return bytes.takeError();
  return parse(*bytes, path);
}

std::string encode(DType dtype, llvm::ArrayRef<int64_t> shape, const void *data) {
  // Python's repr of the shape tuple: "()", "(5,)", "(2, 3)".
  std::string tuple = "(" + joinDims(shape) + (shape.size() == 1 ? ",)" : ")");
  std::string header = std::string("{'descr': '") + dtypeDescr(dtype) +
                       "', 'fortran_order': False, 'shape': " + tuple + ", }";
  // The preamble is 10 bytes (magic, version, 2-byte length); the header
  // ends with a newline and is padded with spaces so the data is aligned.
  std::size_t unpadded = kMagic.size() + 4 + header.size() + 1;
  header.append((kAlignment - unpadded % kAlignment) % kAlignment, ' ');
  header += '\n';
  std::string bytes = kMagic.str();
  bytes += '\x01';
  bytes += '\x00';
  bytes += static_cast<char>(header.size() & 0xff);
  bytes += static_cast<char>(header.size() >> 8);
  bytes += header;
  int64_t elements = 1;
  for (int64_t dim : shape)
    elements *= dim;
  bytes.append(static_cast<const char *>(data), elements * dtypeBytes(dtype));
  return bytes;
}

std::string encodeF32(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<float> values) {
  return encode(DType::F32, shape, values.data());
}

} // namespace attnc::npy
