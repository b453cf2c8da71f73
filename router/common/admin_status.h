#pragma once

// Shared by the router's AdminService and switchboardctl.

namespace switchboard {

// The start of the message of every UNAVAILABLE answer the AdminService gives because its store
// could not answer (Redis down, the store closing), so that a client can tell it from an
// UNAVAILABLE of the transport (the router cannot be reached). A Tail ended by the router's
// shutdown is an UNAVAILABLE of its own ("the router is shutting down").
inline constexpr char kStoreUnavailablePrefix[] = "the router's store is unavailable: ";

}  // namespace switchboard
