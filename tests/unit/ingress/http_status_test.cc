#include "router/common/http_status.h"

#include "gtest/gtest.h"

namespace switchboard {
namespace {

// DESIGN.md "Status codes on the ingress".
TEST(HttpStatusTest, MapsTheIngressContract) {
  EXPECT_EQ(HttpStatusFromStatus(absl::OkStatus()), 200);
  EXPECT_EQ(HttpStatusFromStatus(absl::InvalidArgumentError("x")), 400);
  EXPECT_EQ(HttpStatusFromStatus(absl::UnauthenticatedError("x")), 401);
  EXPECT_EQ(HttpStatusFromStatus(absl::PermissionDeniedError("x")), 403);
  EXPECT_EQ(HttpStatusFromStatus(absl::NotFoundError("x")), 404);
  EXPECT_EQ(HttpStatusFromStatus(absl::UnavailableError("x")), 503);
  EXPECT_EQ(HttpStatusFromStatus(absl::DeadlineExceededError("x")), 503);
  EXPECT_EQ(HttpStatusFromStatus(absl::AbortedError("x")), 503);
  EXPECT_EQ(HttpStatusFromStatus(absl::InternalError("x")), 500);
  EXPECT_EQ(HttpStatusFromStatus(absl::UnknownError("x")), 500);
}

// Shedding is transient: never a 4xx (not even 429), SNS treats every 4xx as delivered.
TEST(HttpStatusTest, SheddingIsRetryableNeverA4xx) {
  const int status = HttpStatusFromStatus(absl::ResourceExhaustedError("x"));
  EXPECT_EQ(status, 503);
  EXPECT_TRUE(IsRetryableHttpStatus(status));
  EXPECT_FALSE(IsRetryableHttpStatus(400));
}

}  // namespace
}  // namespace switchboard
