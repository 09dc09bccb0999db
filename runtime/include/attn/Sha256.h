// SHA-256 (FIPS 180-4). The kernel cache keys entries and checks payloads with
// it: a cryptographic hash makes accidental key collisions a non-issue and is
// small enough to carry here instead of pulling in a crypto library.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace attn {

using Digest = std::array<std::uint8_t, 32>;

class Sha256 {
public:
  Sha256();
  Sha256 &update(const void *data, std::size_t size);
  Sha256 &update(std::string_view text) { return update(text.data(), text.size()); }
  // Length-prefixed, so that ("ab", "c") and ("a", "bc") hash differently.
  Sha256 &field(std::string_view text);
  Digest finish();

private:
  void compressBlock(const std::uint8_t *block);

  std::array<std::uint32_t, 8> state_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t totalBytes_ = 0;
};

Digest sha256(std::string_view data);
std::string toHex(const Digest &digest);

} // namespace attn
