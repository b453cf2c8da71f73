#include "router/delivery/agent_directory.h"

#include <algorithm>

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace switchboard::delivery {

AgentDirectory::AgentDirectory(const std::vector<config::AgentConfig>& agents) {
  for (const auto& agent : agents) {
    agents_.push_back(agent.name);
    for (const auto& token : agent.tokens) {
      // An empty token would authenticate a request without the header; never accept it.
      if (!token.empty()) tokens_.push_back({agent.name, Sha256(token)});
    }
  }
}

AgentDirectory::Digest AgentDirectory::Sha256(std::string_view data) {
  Digest digest;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data());
  return digest;
}

std::optional<std::string> AgentDirectory::Authenticate(std::string_view token) const {
  if (token.empty()) return std::nullopt;
  const Digest presented = Sha256(token);
  const Entry* match = nullptr;
  for (const auto& entry : tokens_) {
    if (CRYPTO_memcmp(entry.token_digest.data(), presented.data(), presented.size()) == 0) {
      match = &entry;
    }
  }
  if (match == nullptr) return std::nullopt;
  return match->agent;
}

bool AgentDirectory::HasAgent(std::string_view agent) const {
  return std::find(agents_.begin(), agents_.end(), agent) != agents_.end();
}

}  // namespace switchboard::delivery
