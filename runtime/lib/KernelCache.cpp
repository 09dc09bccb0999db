#include "attn/KernelCache.h"

#include "attn/Driver.h"
#include "attn/Error.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>

namespace attn {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[8] = {'A', 'T', 'T', 'N', 'K', 'R', 'N', 'L'};
constexpr std::uint32_t kFormatVersion = 1;
// magic, format version, kind, key, payload length, payload checksum
constexpr std::size_t kHeaderSize = 8 + 4 + 4 + 32 + 8 + 32;

// Fixed-width little-endian fields, so an entry means the same on any host.
void appendUint(std::string &out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i)
    out += static_cast<char>((value >> (8 * i)) & 0xff);
}

std::uint64_t readUint(const std::string &in, std::size_t offset, int bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < bytes; ++i)
    value |= std::uint64_t(static_cast<unsigned char>(in[offset + i])) << (8 * i);
  return value;
}

std::string digestBytes(const Digest &digest) {
  return std::string(digest.begin(), digest.end());
}

std::string encodeEntry(const Digest &key, const Binary &binary) {
  std::string entry(kMagic, sizeof kMagic);
  appendUint(entry, kFormatVersion, 4);
  appendUint(entry, static_cast<std::uint32_t>(binary.kind), 4);
  entry += digestBytes(key);
  appendUint(entry, binary.bytes.size(), 8);
  entry += digestBytes(sha256(binary.bytes));
  entry += binary.bytes;
  return entry;
}

// Fills `binary` and returns "" when the entry is whole and for `key`;
// otherwise returns why it cannot be trusted.
std::string decodeEntry(const std::string &entry, const Digest &key, Binary &binary) {
  if (entry.size() < kHeaderSize)
    return "shorter than its header";
  if (entry.compare(0, sizeof kMagic, kMagic, sizeof kMagic) != 0)
    return "bad magic";
  if (readUint(entry, 8, 4) != kFormatVersion)
    return "unknown format version";
  std::uint64_t kind = readUint(entry, 12, 4);
  if (kind > static_cast<std::uint32_t>(BinaryKind::Cubin))
    return "unknown binary kind";
  if (entry.compare(16, 32, digestBytes(key)) != 0)
    return "key mismatch";
  if (readUint(entry, 48, 8) != entry.size() - kHeaderSize)
    return "payload length mismatch (truncated?)";
  std::string payload = entry.substr(kHeaderSize);
  if (entry.compare(56, 32, digestBytes(sha256(payload))) != 0)
    return "payload checksum mismatch";
  binary = {static_cast<BinaryKind>(kind), std::move(payload)};
  return "";
}

void warn(const std::string &message) {
  std::fprintf(stderr, "attnc: warning: %s\n", message.c_str());
}

std::optional<std::string> readFile(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void writeAll(int fd, const std::string &data, const fs::path &path) {
  std::size_t written = 0;
  while (written < data.size()) {
    ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      throw Error("cannot write " + path.string() + ": " + std::strerror(errno));
    written += static_cast<std::size_t>(n);
  }
}

// Temp file in the same folder (rename is atomic only within a file system),
// named by process and a counter so that no two writers share one.
void writeAtomically(const fs::path &path, const std::string &data) {
  static std::atomic<unsigned long> counter{0};
  fs::create_directories(path.parent_path());
  fs::path temp = path;
  temp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    throw Error("cannot create " + temp.string() + ": " + std::strerror(errno));
  try {
    writeAll(fd, data, temp);
    if (::fsync(fd) != 0)
      throw Error("cannot fsync " + temp.string() + ": " + std::strerror(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
  ::close(fd);
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    int error = errno;
    ::unlink(temp.c_str());
    throw Error("cannot rename to " + path.string() + ": " + std::strerror(error));
  }
}

fs::path directoryFromEnvironment(const char *variable, const char *child) {
  const char *value = std::getenv(variable);
  return value && *value ? fs::path(value) / child : fs::path();
}

} // namespace

Digest kernelCacheKey(const CompileRequest &request) {
  Sha256 hash;
  hash.field("attnc-kernel-cache-key-v1").field(request.name).field(request.source);
  hash.field(std::to_string(request.headers.size()));
  for (const auto &[name, content] : request.headers)
    hash.field(name).field(content);
  std::vector<std::string> options = nvrtcOptions(request);
  hash.field(std::to_string(options.size()));
  for (const std::string &option : options)
    hash.field(option);
  hash.field(std::to_string(static_cast<int>(request.kind)));
  hash.field(nvrtcVersion()).field(std::to_string(driverVersion()));
  return hash.finish();
}

// One per key: its mutex makes one thread compile while the others wait.
struct KernelCache::Slot {
  std::mutex mutex;
  std::optional<Binary> binary;
};

fs::path KernelCache::defaultDirectory() {
  for (auto [variable, child] : {std::pair{"ATTNC_CACHE_DIR", ""},
                                 std::pair{"XDG_CACHE_HOME", "attnc"},
                                 std::pair{"HOME", ".cache/attnc"}})
    if (fs::path directory = directoryFromEnvironment(variable, child); !directory.empty())
      return directory;
  return fs::temp_directory_path() / "attnc-cache";
}

KernelCache::KernelCache(fs::path directory) : directory_(std::move(directory)) {}

fs::path KernelCache::pathOf(const Digest &key) const {
  return directory_ / (toHex(key) + ".kernel");
}

fs::path KernelCache::entryPath(const CompileRequest &request) const {
  return pathOf(kernelCacheKey(request));
}

std::shared_ptr<KernelCache::Slot> KernelCache::slotFor(const std::string &hexKey) {
  std::lock_guard<std::mutex> lock(slotsMutex_);
  std::shared_ptr<Slot> &slot = slots_[hexKey];
  if (!slot)
    slot = std::make_shared<Slot>();
  return slot;
}

Binary KernelCache::get(const CompileRequest &request) {
  Digest key = kernelCacheKey(request);
  std::shared_ptr<Slot> slot = slotFor(toHex(key));
  std::lock_guard<std::mutex> lock(slot->mutex);
  if (slot->binary) {
    ++memoryHits_;
    return *slot->binary;
  }
  slot->binary = loadOrCompile(request, key);
  return *slot->binary;
}

Binary KernelCache::loadOrCompile(const CompileRequest &request, const Digest &key) {
  fs::path path = pathOf(key);
  if (std::optional<std::string> entry = readFile(path)) {
    Binary binary;
    std::string problem = decodeEntry(*entry, key, binary);
    if (problem.empty()) {
      ++diskHits_;
      return binary;
    }
    ++rejected_;
    warn("kernel cache entry " + path.string() + " is corrupt (" + problem +
         "); rebuilding it");
  }
  Binary binary = compileWithNvrtc(request);
  ++compiles_;
  // The cache only saves time: a read-only or full disk must not fail a launch.
  try {
    writeAtomically(path, encodeEntry(key, binary));
  } catch (const std::exception &error) {
    warn(std::string("kernel cache not written: ") + error.what());
  }
  return binary;
}

KernelCacheStats KernelCache::stats() const {
  return {memoryHits_.load(), diskHits_.load(), compiles_.load(), rejected_.load()};
}

} // namespace attn
