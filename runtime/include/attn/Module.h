// Owning wrappers for what a kernel launch needs: a loaded module, device
// memory and the launch itself. All go through attn::driver(), so they throw
// attn::Error("no CUDA driver/GPU found: ...") on a machine without a GPU.
#pragma once

#include "attn/Driver.h"

#include <cstddef>
#include <string>

namespace attn {

class Module {
public:
  // image: a CUBIN, or PTX (NUL-terminated by the driver's rules; a
  // std::string's data() is).
  explicit Module(const std::string &image);
  ~Module();
  Module(const Module &) = delete;
  Module &operator=(const Module &) = delete;

  CUfunction function(const char *name) const;

private:
  CUmodule module_ = nullptr;
};

class DeviceBuffer {
public:
  explicit DeviceBuffer(std::size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;

  CUdeviceptr pointer() const { return pointer_; }
  std::size_t size() const { return bytes_; }
  void upload(const void *host);
  void download(void *host) const;
  void fillBytes(unsigned char value);

private:
  CUdeviceptr pointer_ = 0;
  std::size_t bytes_;
};

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};

// Launches on `stream` without waiting.
void launch(CUfunction function, Dim3 grid, Dim3 block, void **params, unsigned sharedBytes,
            CUstream stream);

// Launches on the default stream and waits for it, so errors surface here.
void launchAndWait(CUfunction function, Dim3 grid, Dim3 block, void **params,
                   unsigned sharedBytes = 0);

// Times work on a stream with driver events (benchmarks).
class EventTimer {
public:
  EventTimer();
  ~EventTimer();
  EventTimer(const EventTimer &) = delete;
  EventTimer &operator=(const EventTimer &) = delete;

  void start(CUstream stream = nullptr);
  // Records the end on `stream`, waits for it and returns the milliseconds.
  float stop(CUstream stream = nullptr);

private:
  CUevent start_ = nullptr, end_ = nullptr;
};

} // namespace attn
