// The one exception type of the runtime: every failure (driver, NVRTC, cache)
// surfaces as attn::Error so that callers need a single catch.
#pragma once

#include <stdexcept>
#include <string>

namespace attn {

class Error : public std::runtime_error {
public:
  explicit Error(const std::string &message);
  // Defined out of line so the vtable and typeinfo live in libattnc_runtime.so
  // and a catch in another binary matches them.
  ~Error() override;
};

} // namespace attn
