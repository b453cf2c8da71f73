#include "router/store/redis_url.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace switchboard::store {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(RedisUrlTest, HostPortAndDatabase) {
  absl::StatusOr<RedisEndpoint> e = ParseRedisUrl("redis://redis.internal:6380/2");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->host, "redis.internal");
  EXPECT_EQ(e->port, 6380);
  EXPECT_EQ(e->db, 2);
  EXPECT_EQ(e->username, "");
  EXPECT_EQ(e->password, "");
}

TEST(RedisUrlTest, DefaultsArePort6379AndDatabase0) {
  for (const char* url : {"redis://localhost", "redis://localhost/", "REDIS://localhost"}) {
    absl::StatusOr<RedisEndpoint> e = ParseRedisUrl(url);
    ASSERT_TRUE(e.ok()) << url << ": " << e.status();
    EXPECT_EQ(e->host, "localhost");
    EXPECT_EQ(e->port, 6379);
    EXPECT_EQ(e->db, 0);
  }
}

TEST(RedisUrlTest, PasswordOnlyUserAndPasswordAndPercentEncoding) {
  absl::StatusOr<RedisEndpoint> e = ParseRedisUrl("redis://:p%40ss%3Aw@127.0.0.1:7000/1");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->username, "");
  EXPECT_EQ(e->password, "p@ss:w");
  EXPECT_EQ(e->port, 7000);
  e = ParseRedisUrl("redis://router:secret@10.0.0.5");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->username, "router");
  EXPECT_EQ(e->password, "secret");
  e = ParseRedisUrl("redis://secret@10.0.0.5");  // as redis-cli reads it: a password
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->username, "");
  EXPECT_EQ(e->password, "secret");
}

TEST(RedisUrlTest, BracketedIpv6Host) {
  absl::StatusOr<RedisEndpoint> e = ParseRedisUrl("redis://[::1]:6390");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->port, 6390);
}

TEST(RedisUrlTest, RefusesWhatItCannotServeWithoutEchoingThePassword) {
  for (const char* url :
       {"", "http://localhost", "redis://", "redis://:pw@", "redis://host:0", "redis://host:70000",
        "redis://host:port", "redis://host/x", "redis://host/-1", "redis://host?db=1",
        "redis://[::1", "redis://[::1]x", "redis://:bad%zz@host", "rediss://:topsecret@host"}) {
    absl::StatusOr<RedisEndpoint> e = ParseRedisUrl(url);
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument) << url;
    EXPECT_THAT(e.status().message(), Not(HasSubstr("topsecret"))) << url;
  }
  EXPECT_THAT(ParseRedisUrl("rediss://host").status().message(), HasSubstr("tunnel"));
}

}  // namespace
}  // namespace switchboard::store
