#include "RuntimeTestSupport.h"

#include "attn/KernelCache.h"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <iterator>
#include <thread>
#include <vector>

using namespace attn;
using attn::testing::fillKernel;
using attn::testing::TempDir;

namespace {

const CompileRequest kRequest = fillKernel("sm_80", BinaryKind::Cubin);

std::string readFile(const std::filesystem::path &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void writeFile(const std::filesystem::path &path, const std::string &bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

TEST(KernelCache, MissThenHitInMemoryAndOnDisk) {
  TempDir dir;
  KernelCache first(dir.path());
  Binary compiled = first.get(kRequest);
  Binary fromMemory = first.get(kRequest);
  EXPECT_EQ(first.stats().compiles, 1u);
  EXPECT_EQ(first.stats().memoryHits, 1u);
  EXPECT_EQ(fromMemory.bytes, compiled.bytes);
  EXPECT_TRUE(std::filesystem::exists(first.entryPath(kRequest)));

  KernelCache second(dir.path());
  Binary fromDisk = second.get(kRequest);
  EXPECT_EQ(second.stats().diskHits, 1u);
  EXPECT_EQ(second.stats().compiles, 0u);
  EXPECT_EQ(fromDisk.bytes, compiled.bytes);
  EXPECT_EQ(fromDisk.kind, BinaryKind::Cubin);
}

TEST(KernelCache, KeyCoversSourceHeadersOptionsArchAndKind) {
  Digest base = kernelCacheKey(kRequest);
  std::vector<std::function<void(CompileRequest &)>> changes = {
      [](CompileRequest &r) { r.source += "\n"; },
      [](CompileRequest &r) { r.headers["fill_constants.h"] += "\n"; },
      [](CompileRequest &r) { r.options.push_back("-lineinfo"); },
      [](CompileRequest &r) { r.arch = "sm_90a"; },
      [](CompileRequest &r) { r.kind = BinaryKind::Ptx; },
  };
  for (const auto &change : changes) {
    CompileRequest changed = kRequest;
    change(changed);
    EXPECT_NE(kernelCacheKey(changed), base);
  }
  EXPECT_EQ(kernelCacheKey(kRequest), base);
}

// Damages the entry on disk and checks that a fresh cache warns, recompiles
// the same bytes and repairs the entry for the next one.
void expectDamageDetectedAndRebuilt(const std::function<void(std::string &)> &damage) {
  TempDir dir;
  Binary original = KernelCache(dir.path()).get(kRequest);
  std::filesystem::path entry = KernelCache(dir.path()).entryPath(kRequest);
  std::string bytes = readFile(entry);
  damage(bytes);
  writeFile(entry, bytes);

  KernelCache afterDamage(dir.path());
  ::testing::internal::CaptureStderr();
  Binary rebuilt = afterDamage.get(kRequest);
  std::string warning = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(warning.find("warning: kernel cache entry"), std::string::npos) << warning;
  EXPECT_NE(warning.find("corrupt"), std::string::npos) << warning;
  EXPECT_EQ(afterDamage.stats().rejectedEntries, 1u);
  EXPECT_EQ(afterDamage.stats().compiles, 1u);
  EXPECT_EQ(rebuilt.bytes, original.bytes);

  KernelCache afterRepair(dir.path());
  EXPECT_EQ(afterRepair.get(kRequest).bytes, original.bytes);
  EXPECT_EQ(afterRepair.stats().diskHits, 1u);
}

TEST(KernelCache, TruncatedEntryIsRebuilt) {
  expectDamageDetectedAndRebuilt([](std::string &bytes) { bytes.resize(bytes.size() / 2); });
}

TEST(KernelCache, ByteFlippedEntryIsRebuilt) {
  expectDamageDetectedAndRebuilt([](std::string &bytes) { bytes[bytes.size() - 7] ^= 0x20; });
}

TEST(KernelCache, ConcurrentRequestsCompileOnce) {
  TempDir dir;
  KernelCache cache(dir.path());
  std::vector<std::string> results(8);
  std::vector<std::thread> threads;
  for (std::string &result : results)
    threads.emplace_back([&cache, &result] { result = cache.get(kRequest).bytes; });
  for (std::thread &thread : threads)
    thread.join();
  EXPECT_EQ(cache.stats().compiles, 1u);
  EXPECT_EQ(cache.stats().memoryHits, 7u);
  for (const std::string &result : results)
    EXPECT_EQ(result, results[0]);
}

} // namespace
