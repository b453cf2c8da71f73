#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "router/config/config.h"

namespace switchboard::delivery {

// The configured agents and their bearer tokens (several per agent, for rotation), as one
// immutable snapshot. Holders share it through std::shared_ptr<const AgentDirectory>, so a config
// reload swaps the pointer while streams that already authenticated keep their snapshot.
//
// Tokens are kept only as SHA-256 digests and compared in constant time (CRYPTO_memcmp over the
// digests, so neither the content nor the length of a configured token leaks through timing).
// Thread-safe (immutable after construction).
class AgentDirectory {
 public:
  explicit AgentDirectory(const std::vector<config::AgentConfig>& agents);

  // The agent that owns `token`, or nullopt if no configured agent has it. Visits every
  // configured token, whatever matches, so the time taken does not depend on which one matched.
  std::optional<std::string> Authenticate(std::string_view token) const;

  bool HasAgent(std::string_view agent) const;

 private:
  using Digest = std::array<unsigned char, 32>;
  struct Entry {
    std::string agent;
    Digest token_digest;
  };
  static Digest Sha256(std::string_view data);

  std::vector<std::string> agents_;
  std::vector<Entry> tokens_;
};

}  // namespace switchboard::delivery
