#include "attn/Module.h"

namespace attn {

Module::Module(const std::string &image) {
  check(driver().cuModuleLoadData(&module_, image.data()), "cuModuleLoadData");
}

// Destructors must not throw: an unload or free failure is ignored because the
// context is then already broken and the error surfaced at an earlier call.
Module::~Module() { driver().cuModuleUnload(module_); }

CUfunction Module::function(const char *name) const {
  CUfunction function = nullptr;
  check(driver().cuModuleGetFunction(&function, module_, name),
        (std::string("cuModuleGetFunction(") + name + ")").c_str());
  return function;
}

DeviceBuffer::DeviceBuffer(std::size_t bytes) : bytes_(bytes) {
  check(driver().cuMemAlloc(&pointer_, bytes), "cuMemAlloc");
}

DeviceBuffer::~DeviceBuffer() { driver().cuMemFree(pointer_); }

void DeviceBuffer::upload(const void *host) {
  check(driver().cuMemcpyHtoD(pointer_, host, bytes_), "cuMemcpyHtoD");
}

void DeviceBuffer::download(void *host) const {
  check(driver().cuMemcpyDtoH(host, pointer_, bytes_), "cuMemcpyDtoH");
}

void DeviceBuffer::fillBytes(unsigned char value) {
  check(driver().cuMemsetD8(pointer_, value, bytes_), "cuMemsetD8");
}

void launch(CUfunction function, Dim3 grid, Dim3 block, void **params, unsigned sharedBytes,
            CUstream stream) {
  check(driver().cuLaunchKernel(function, grid.x, grid.y, grid.z, block.x, block.y, block.z,
                                sharedBytes, stream, params, nullptr),
        "cuLaunchKernel");
}

void launchAndWait(CUfunction function, Dim3 grid, Dim3 block, void **params,
                   unsigned sharedBytes) {
  launch(function, grid, block, params, sharedBytes, nullptr);
  check(driver().cuStreamSynchronize(nullptr), "cuStreamSynchronize");
}

EventTimer::EventTimer() {
  check(driver().cuEventCreate(&start_, 0), "cuEventCreate");
  check(driver().cuEventCreate(&end_, 0), "cuEventCreate");
}

EventTimer::~EventTimer() {
  driver().cuEventDestroy(start_);
  driver().cuEventDestroy(end_);
}

void EventTimer::start(CUstream stream) {
  check(driver().cuEventRecord(start_, stream), "cuEventRecord");
}

float EventTimer::stop(CUstream stream) {
  const DriverApi &api = driver();
  check(api.cuEventRecord(end_, stream), "cuEventRecord");
  check(api.cuEventSynchronize(end_), "cuEventSynchronize");
  float ms = 0;
  check(api.cuEventElapsedTime(&ms, start_, end_), "cuEventElapsedTime");
  return ms;
}

} // namespace attn
