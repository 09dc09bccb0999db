#include "attn/Driver.h"

#include "attn/Error.h"

#include <dlfcn.h>

namespace attn {
namespace {

constexpr int kAttributeComputeCapabilityMajor = 75;
constexpr int kAttributeComputeCapabilityMinor = 76;

// The outcome of the one attempt to load the driver: either a usable driver or
// the reason there is none, kept so that every later call reports the same.
struct LoadedDriver {
  DriverApi api{};
  CUcontext context = nullptr;
  DeviceInfo info;
  std::string failure;
};

template <typename Function>
void resolve(void *library, Function &slot, const char *symbol) {
  slot = reinterpret_cast<Function>(dlsym(library, symbol));
  if (!slot)
    throw Error(std::string("libcuda.so.1 lacks ") + symbol);
}

DriverApi resolveApi(void *library) {
  DriverApi api{};
  resolve(library, api.cuInit, "cuInit");
  resolve(library, api.cuDriverGetVersion, "cuDriverGetVersion");
  resolve(library, api.cuDeviceGetCount, "cuDeviceGetCount");
  resolve(library, api.cuDeviceGet, "cuDeviceGet");
  resolve(library, api.cuDeviceGetAttribute, "cuDeviceGetAttribute");
  resolve(library, api.cuDeviceGetName, "cuDeviceGetName");
  resolve(library, api.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
  resolve(library, api.cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2");
  resolve(library, api.cuCtxSetCurrent, "cuCtxSetCurrent");
  resolve(library, api.cuCtxSynchronize, "cuCtxSynchronize");
  resolve(library, api.cuStreamSynchronize, "cuStreamSynchronize");
  resolve(library, api.cuModuleLoadData, "cuModuleLoadData");
  resolve(library, api.cuModuleUnload, "cuModuleUnload");
  resolve(library, api.cuModuleGetFunction, "cuModuleGetFunction");
  resolve(library, api.cuLaunchKernel, "cuLaunchKernel");
  resolve(library, api.cuMemAlloc, "cuMemAlloc_v2");
  resolve(library, api.cuMemFree, "cuMemFree_v2");
  resolve(library, api.cuMemAllocAsync, "cuMemAllocAsync");
  resolve(library, api.cuMemFreeAsync, "cuMemFreeAsync");
  resolve(library, api.cuMemGetInfo, "cuMemGetInfo_v2");
  resolve(library, api.cuDeviceGetDefaultMemPool, "cuDeviceGetDefaultMemPool");
  resolve(library, api.cuMemPoolSetAttribute, "cuMemPoolSetAttribute");
  resolve(library, api.cuMemcpyHtoD, "cuMemcpyHtoD_v2");
  resolve(library, api.cuMemcpyDtoH, "cuMemcpyDtoH_v2");
  resolve(library, api.cuMemsetD8, "cuMemsetD8_v2");
  resolve(library, api.cuMemsetD32Async, "cuMemsetD32Async");
  resolve(library, api.cuFuncSetAttribute, "cuFuncSetAttribute");
  resolve(library, api.cuEventCreate, "cuEventCreate");
  resolve(library, api.cuEventDestroy, "cuEventDestroy_v2");
  resolve(library, api.cuEventRecord, "cuEventRecord");
  resolve(library, api.cuEventSynchronize, "cuEventSynchronize");
  resolve(library, api.cuEventElapsedTime, "cuEventElapsedTime_v2");
  resolve(library, api.cuGetErrorString, "cuGetErrorString");
  return api;
}

std::string describe(const DriverApi &api, CUresult result) {
  const char *text = nullptr;
  if (api.cuGetErrorString && api.cuGetErrorString(result, &text) == CUDA_SUCCESS &&
      text)
    return text;
  return "CUDA error " + std::to_string(result);
}

void checkWith(const DriverApi &api, CUresult result, const char *what) {
  if (result != CUDA_SUCCESS)
    throw Error(std::string(what) + ": " + describe(api, result));
}

DeviceInfo queryDevice(const DriverApi &api, CUdevice device) {
  DeviceInfo info;
  char name[256] = {};
  checkWith(api, api.cuDeviceGetName(name, sizeof name, device), "cuDeviceGetName");
  info.name = name;
  int major = 0, minor = 0;
  checkWith(api, api.cuDeviceGetAttribute(&major, kAttributeComputeCapabilityMajor, device),
            "cuDeviceGetAttribute");
  checkWith(api, api.cuDeviceGetAttribute(&minor, kAttributeComputeCapabilityMinor, device),
            "cuDeviceGetAttribute");
  info.computeCapability = major * 10 + minor;
  checkWith(api, api.cuDriverGetVersion(&info.driverVersion), "cuDriverGetVersion");
  return info;
}

// Loads the driver and retains device 0's primary context; throws on failure.
void initialize(LoadedDriver &loaded) {
  // The library stays loaded for the life of the process: kernels and contexts
  // outlive any one caller.
  void *library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    const char *reason = dlerror();
    throw Error(reason ? reason : "dlopen(libcuda.so.1) failed");
  }
  loaded.api = resolveApi(library);
  const DriverApi &api = loaded.api;
  checkWith(api, api.cuInit(0), "cuInit");
  int count = 0;
  checkWith(api, api.cuDeviceGetCount(&count), "cuDeviceGetCount");
  if (count == 0)
    throw Error("device count is 0");
  CUdevice device = 0;
  checkWith(api, api.cuDeviceGet(&device, 0), "cuDeviceGet");
  loaded.info = queryDevice(api, device);
  checkWith(api, api.cuDevicePrimaryCtxRetain(&loaded.context, device),
            "cuDevicePrimaryCtxRetain");
}

const LoadedDriver &loadedDriver() {
  // A function-local static: C++11 guarantees one initialization across threads.
  static const LoadedDriver loaded = [] {
    LoadedDriver result;
    try {
      initialize(result);
    } catch (const Error &error) {
      result.failure = error.what();
    }
    return result;
  }();
  return loaded;
}

const LoadedDriver &usableDriver() {
  const LoadedDriver &loaded = loadedDriver();
  if (!loaded.failure.empty())
    throw Error("no CUDA driver/GPU found: " + loaded.failure);
  return loaded;
}

} // namespace

const DriverApi &driver() {
  const LoadedDriver &loaded = usableDriver();
  // The current context is per thread, so each thread binds it once.
  thread_local bool bound = false;
  if (!bound) {
    checkWith(loaded.api, loaded.api.cuCtxSetCurrent(loaded.context), "cuCtxSetCurrent");
    bound = true;
  }
  return loaded.api;
}

void check(CUresult result, const char *what) {
  checkWith(loadedDriver().api, result, what);
}

bool gpuAvailable() { return loadedDriver().failure.empty(); }

DeviceInfo deviceInfo() { return usableDriver().info; }

int driverVersion() {
  return gpuAvailable() ? loadedDriver().info.driverVersion : 0;
}

} // namespace attn
