#include "router/config/byte_size.h"

#include <cstdint>

#include "gtest/gtest.h"

namespace switchboard::config {
namespace {

TEST(ParseByteSizeTest, DecimalAndBinaryUnits) {
  const std::pair<const char*, uint64_t> cases[] = {
      {"0", 0},
      {"1024", 1024},
      {"1B", 1},
      {"1KB", 1000},
      {"1MB", 1000000},
      {"2GB", 2000000000},
      {"1TB", 1000000000000},
      {"512KiB", 524288},
      {"10MiB", 10485760},
      {"1GiB", 1073741824},
      {"1TiB", 1099511627776},
      {"18446744073709551615", 18446744073709551615ull},
      {"16777215TiB", 18446742974197923840ull},
  };
  for (const auto& [text, want] : cases) {
    auto got = ParseByteSize(text);
    ASSERT_TRUE(got.ok()) << text << ": " << got.status();
    EXPECT_EQ(*got, want) << text;
  }
}

TEST(ParseByteSizeTest, RefusesMalformedAndOverflow) {
  for (const char* text :
       {"", "MiB", "10mib", "10mb", "10 MiB", " 10", "10MiB ", "1.5MiB", "-1", "+1", "10XB",
        "10MiBs", "1e6", "0x10", "18446744073709551616", "16777216TiB", "18446744073709552KB"}) {
    auto got = ParseByteSize(text);
    EXPECT_FALSE(got.ok()) << "\"" << text << "\" parsed as " << *got;
    if (!got.ok()) {
      EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace switchboard::config
