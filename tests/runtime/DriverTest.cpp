#include "RuntimeTestSupport.h"

#include "attn/Driver.h"
#include "attn/Error.h"
#include "attn/KernelCache.h"
#include "attn/Module.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

using namespace attn;
using attn::testing::fillKernel;
using attn::testing::TempDir;

namespace {

// GPU tests skip visibly, with the driver's reason, where there is no GPU.
#define REQUIRE_GPU()                                                          \
  try {                                                                        \
    deviceInfo();                                                              \
  } catch (const Error &error) {                                               \
    GTEST_SKIP() << error.what();                                              \
  }

TEST(Driver, WithoutADriverQueriesThrowAClearError) {
  if (gpuAvailable())
    GTEST_SKIP() << "a CUDA driver and GPU are present: " << deviceInfo().name;
  EXPECT_EQ(driverVersion(), 0);
  try {
    deviceInfo();
    FAIL() << "deviceInfo() returned without a driver";
  } catch (const Error &error) {
    EXPECT_NE(std::string(error.what()).find("no CUDA driver/GPU found: "),
              std::string::npos)
        << error.what();
  }
  EXPECT_THROW(driver(), Error);
}

TEST(Driver, ReportsTheDevice) {
  REQUIRE_GPU();
  DeviceInfo info = deviceInfo();
  EXPECT_FALSE(info.name.empty());
  EXPECT_GE(info.computeCapability, 50);
  EXPECT_GT(info.driverVersion, 0);
  EXPECT_EQ(driverVersion(), info.driverVersion);
}

void expectFillWritesEveryElement(BinaryKind kind) {
  std::string arch = "sm_" + std::to_string(deviceInfo().computeCapability);
  TempDir dir;
  Module module(KernelCache(dir.path()).get(fillKernel(arch, kind)).bytes);
  constexpr unsigned kCount = 100000;
  DeviceBuffer buffer(kCount * sizeof(std::uint32_t));
  buffer.fillBytes(0xff);
  CUdeviceptr out = buffer.pointer();
  unsigned count = kCount;
  void *params[] = {&out, &count};
  launchAndWait(module.function("fill"), {(kCount + 255) / 256}, {256}, params);
  std::vector<std::uint32_t> host(kCount);
  buffer.download(host.data());
  for (unsigned i = 0; i < kCount; ++i)
    ASSERT_EQ(host[i], i * 3 + 1) << "element " << i;
}

TEST(Driver, LaunchesACubinForTheDevice) {
  REQUIRE_GPU();
  expectFillWritesEveryElement(BinaryKind::Cubin);
}

TEST(Driver, LaunchesPtxForTheDevice) {
  REQUIRE_GPU();
  expectFillWritesEveryElement(BinaryKind::Ptx);
}

} // namespace
