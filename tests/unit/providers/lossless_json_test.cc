#include "router/providers/lossless_json.h"

#include "gtest/gtest.h"

namespace switchboard::providers {
namespace {

TEST(LosslessJsonTest, KeepsNumberText) {
  auto v = ParseJsonLossless(
      R"({"ts": 1513299569.1234567, "id": 19421777835146490123, "n": -5, "e": 1.5e3,
          "s": "x", "b": true, "z": null, "a": [1, {"k": 2}]})");
  ASSERT_TRUE(v.ok()) << v.status();
  const auto& o = v->as_object();
  EXPECT_EQ(JsonText(o, "ts").value(), "1513299569.1234567");
  EXPECT_EQ(JsonText(o, "id").value(), "19421777835146490123");
  EXPECT_EQ(JsonText(o, "n").value(), "-5");
  EXPECT_EQ(JsonText(o, "e").value(), "1.5e3");
  EXPECT_EQ(JsonText(o, "s").value(), "x");
  EXPECT_FALSE(JsonText(o, "b").has_value());
  EXPECT_FALSE(JsonText(o, "z").has_value());
  EXPECT_FALSE(JsonText(o, "missing").has_value());
  ASSERT_NE(JsonArray(o, "a"), nullptr);
  EXPECT_EQ(JsonText((*JsonArray(o, "a"))[1].as_object(), "k").value(), "2");
}

TEST(LosslessJsonTest, RejectsInvalidJson) {
  for (std::string_view bad : {"", "{", "[1,]", "{\"a\":1} x", "{'a':1}", "[1] [2]", "nul",
                               "{\"a\":1,}", "/* c */ {}"}) {
    EXPECT_EQ(ParseJsonLossless(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(ParseJsonLossless(std::string(100, '[') + std::string(100, ']')).ok());
}

TEST(SplitJsonArrayTest, ExactElementBytes) {
  const std::string text = "[ {\"a\":\"],}\\\"\"} ,\r\n{\"b\":[1,2]},3 , \"x\"]\r\n";
  auto parts = SplitJsonArray(text);
  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->size(), 4u);
  EXPECT_EQ((*parts)[0], "{\"a\":\"],}\\\"\"}");
  EXPECT_EQ((*parts)[1], "{\"b\":[1,2]}");
  EXPECT_EQ((*parts)[2], "3");
  EXPECT_EQ((*parts)[3], "\"x\"");
  EXPECT_TRUE(SplitJsonArray("[]")->empty());
  EXPECT_FALSE(SplitJsonArray("{}").ok());
}

}  // namespace
}  // namespace switchboard::providers
