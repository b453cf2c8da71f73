#pragma once

// Shared by the router's AdminService and switchboardctl.

namespace switchboard {

// The start of the message of every UNAVAILABLE answer the AdminService itself gives (its store
// could not answer: Redis down, the router shutting down), so that a client can tell it from an
// UNAVAILABLE of the transport (the router cannot be reached).
inline constexpr char kStoreUnavailablePrefix[] = "the router's store is unavailable: ";

}  // namespace switchboard
