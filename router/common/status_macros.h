#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// RETURN_IF_ERROR(expr): returns the status of `expr` from the enclosing function if it is not OK.
#define SWITCHBOARD_CONCAT_INNER(a, b) a##b
#define SWITCHBOARD_CONCAT(a, b) SWITCHBOARD_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                                  \
  do {                                                         \
    ::absl::Status switchboard_status_ = (expr);               \
    if (!switchboard_status_.ok()) return switchboard_status_; \
  } while (0)

// ASSIGN_OR_RETURN(lhs, expr): evaluates a StatusOr, returns its status on error, else assigns.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(SWITCHBOARD_CONCAT(statusor_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()
