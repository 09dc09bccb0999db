// The CUDA driver, loaded with dlopen("libcuda.so.1") at first use so that the
// runtime links and runs on machines without a GPU (DESIGN.md §3). The types
// are declared here, not taken from <cuda.h>, so that users of this header need
// no CUDA toolkit.
#pragma once

#include <cstddef>
#include <string>

namespace attn {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUevent = struct CUevent_st *;
using CUmemoryPool = struct CUmemPoolHandle_st *;

constexpr CUresult CUDA_SUCCESS = 0;

// The driver entry points the runtime uses. Versioned names (cuMemAlloc_v2 ...)
// are resolved where the unversioned symbol is a legacy 32-bit variant.
struct DriverApi {
  CUresult (*cuInit)(unsigned flags);
  CUresult (*cuDriverGetVersion)(int *version);
  CUresult (*cuDeviceGetCount)(int *count);
  CUresult (*cuDeviceGet)(CUdevice *device, int ordinal);
  CUresult (*cuDeviceGetAttribute)(int *value, int attribute, CUdevice device);
  CUresult (*cuDeviceGetName)(char *name, int length, CUdevice device);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *context, CUdevice device);
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice device);
  CUresult (*cuCtxSetCurrent)(CUcontext context);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuStreamSynchronize)(CUstream stream);
  CUresult (*cuModuleLoadData)(CUmodule *module, const void *image);
  CUresult (*cuModuleUnload)(CUmodule module);
  CUresult (*cuModuleGetFunction)(CUfunction *function, CUmodule module,
                                  const char *name);
  CUresult (*cuLaunchKernel)(CUfunction function, unsigned gridX, unsigned gridY,
                             unsigned gridZ, unsigned blockX, unsigned blockY,
                             unsigned blockZ, unsigned sharedBytes,
                             CUstream stream, void **params, void **extra);
  CUresult (*cuMemAlloc)(CUdeviceptr *pointer, std::size_t bytes);
  CUresult (*cuMemFree)(CUdeviceptr pointer);
  CUresult (*cuMemAllocAsync)(CUdeviceptr *pointer, std::size_t bytes, CUstream stream);
  CUresult (*cuMemFreeAsync)(CUdeviceptr pointer, CUstream stream);
  CUresult (*cuMemGetInfo)(std::size_t *free, std::size_t *total);
  CUresult (*cuDeviceGetDefaultMemPool)(CUmemoryPool *pool, CUdevice device);
  CUresult (*cuMemPoolSetAttribute)(CUmemoryPool pool, int attribute, void *value);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr dst, const void *src, std::size_t bytes);
  CUresult (*cuMemcpyDtoH)(void *dst, CUdeviceptr src, std::size_t bytes);
  CUresult (*cuMemsetD8)(CUdeviceptr dst, unsigned char value, std::size_t count);
  CUresult (*cuMemsetD32Async)(CUdeviceptr dst, unsigned value, std::size_t count,
                               CUstream stream);
  CUresult (*cuFuncSetAttribute)(CUfunction function, int attribute, int value);
  CUresult (*cuEventCreate)(CUevent *event, unsigned flags);
  CUresult (*cuEventDestroy)(CUevent event);
  CUresult (*cuEventRecord)(CUevent event, CUstream stream);
  CUresult (*cuEventSynchronize)(CUevent event);
  CUresult (*cuEventElapsedTime)(float *ms, CUevent start, CUevent end);
  CUresult (*cuGetErrorString)(CUresult error, const char **text);
};

// cuMemPoolSetAttribute: memory the pool keeps when freed (bytes, uint64).
constexpr int CU_MEMPOOL_ATTR_RELEASE_THRESHOLD = 4;

// cuFuncSetAttribute: the dynamic shared memory a launch may ask for.
constexpr int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;

struct DeviceInfo {
  std::string name;
  int computeCapability = 0; // major * 10 + minor, e.g. 90 for an H100
  int driverVersion = 0;     // as cuDriverGetVersion reports it, e.g. 13000
};

// The loaded driver with device 0's primary context current on the calling
// thread. The first call (from any thread) loads and initializes it once;
// without a driver or GPU every call throws attn::Error("no CUDA driver/GPU
// found: <reason>").
const DriverApi &driver();

// Throws attn::Error("<what>: <driver's error text>") unless result is success.
void check(CUresult result, const char *what);

bool gpuAvailable();
DeviceInfo deviceInfo();
// 0 when there is no driver: the kernel cache key uses it either way.
int driverVersion();

} // namespace attn
