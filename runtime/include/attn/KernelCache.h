// A cache of NVRTC output, in memory and on disk, so that a kernel is compiled
// once per machine and not once per process.
//
// Key: SHA-256 over the length-prefixed request (name, source, headers, the
// full NVRTC option list, which holds the architecture, and the output kind),
// the NVRTC version and the driver version (0 without a driver). On disk each
// entry is <directory>/<hex key>.kernel: a header (magic, format version, kind,
// key, payload length, SHA-256 of the payload) and the payload. An entry that is
// truncated, corrupt or for another key is reported on stderr as a warning and
// rebuilt, never trusted. Writes go to a unique temporary file in the same
// folder, are fsync'ed and then renamed, so readers in other processes see a
// whole entry or none, and concurrent writers of one key leave identical bytes.
#pragma once

#include "attn/Nvrtc.h"
#include "attn/Sha256.h"

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace attn {

struct KernelCacheStats {
  std::size_t memoryHits = 0;
  std::size_t diskHits = 0;
  std::size_t compiles = 0;
  std::size_t rejectedEntries = 0; // corrupt disk entries that were rebuilt
};

Digest kernelCacheKey(const CompileRequest &request);

class KernelCache {
public:
  // $ATTNC_CACHE_DIR, else $XDG_CACHE_HOME/attnc, else ~/.cache/attnc, else
  // <temp>/attnc-cache.
  static std::filesystem::path defaultDirectory();

  explicit KernelCache(std::filesystem::path directory = defaultDirectory());

  // From memory, else from disk, else compiled (and stored in both). Threads
  // asking for the same key wait for one compilation; other keys proceed.
  Binary get(const CompileRequest &request);

  std::filesystem::path entryPath(const CompileRequest &request) const;
  const std::filesystem::path &directory() const { return directory_; }
  KernelCacheStats stats() const;

private:
  struct Slot;
  std::filesystem::path pathOf(const Digest &key) const;
  std::shared_ptr<Slot> slotFor(const std::string &hexKey);
  Binary loadOrCompile(const CompileRequest &request, const Digest &key);

  std::filesystem::path directory_;
  std::mutex slotsMutex_;
  std::unordered_map<std::string, std::shared_ptr<Slot>> slots_;
  std::atomic<std::size_t> memoryHits_{0}, diskHits_{0}, compiles_{0}, rejected_{0};
};

} // namespace attn
