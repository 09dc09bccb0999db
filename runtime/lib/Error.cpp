#include "attn/Error.h"

namespace attn {

Error::Error(const std::string &message) : std::runtime_error(message) {}
Error::~Error() = default;

} // namespace attn
