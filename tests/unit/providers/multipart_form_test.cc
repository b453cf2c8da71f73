// multipart/form-data framing (RFC 2046 5.1, RFC 7578): boundaries, CRLF and LF, bounds, refusals.
#include "router/providers/multipart_form.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace switchboard::providers {
namespace {

TEST(MultipartBoundaryTest, QuotedAndBare) {
  EXPECT_EQ(MultipartBoundary("multipart/form-data; boundary=abc").value(), "abc");
  EXPECT_EQ(MultipartBoundary("Multipart/Form-Data;BOUNDARY=\"a b;c\"").value(), "a b;c");
  EXPECT_EQ(MultipartBoundary("multipart/form-data; charset=utf-8; boundary=x").value(), "x");
  EXPECT_FALSE(MultipartBoundary("multipart/mixed; boundary=x").ok());
  EXPECT_FALSE(MultipartBoundary("multipart/form-data").ok());
  EXPECT_FALSE(MultipartBoundary("multipart/form-data; boundary=").ok());
  EXPECT_FALSE(MultipartBoundary("multipart/form-data; boundary=" + std::string(71, 'a')).ok());
}

TEST(MultipartFormTest, PartsWithExactBytes) {
  // The RFC 7578 section 4 example shape, with a preamble, an epilogue and a file part.
  const std::string body =
      "preamble\r\n--AaB03x\r\n"
      "Content-Disposition: form-data; name=\"field1\"\r\n"
      "\r\n"
      "Joe Blow\r\nalmost tired\r\n"
      "--AaB03x\r\n"
      "content-disposition: form-data; name=\"pics\"; filename=\"file1.txt\"\r\n"
      "Content-Type: text/plain\r\n"
      "\r\n"
      "...contents of file1.txt...\r\n"
      "--AaB03x\r\n"
      "Content-Disposition: form-data; name=\"empty\"\r\n\r\n"
      "\r\n--AaB03x--\r\nepilogue";
  auto parts = ParseMultipartForm(body, "AaB03x");
  ASSERT_TRUE(parts.ok()) << parts.status();
  ASSERT_EQ(parts->size(), 3u);
  EXPECT_EQ((*parts)[0].name, "field1");
  EXPECT_EQ((*parts)[0].body, "Joe Blow\r\nalmost tired");
  EXPECT_EQ((*parts)[0].filename, "");
  EXPECT_EQ((*parts)[1].name, "pics");
  EXPECT_EQ((*parts)[1].filename, "file1.txt");
  EXPECT_EQ((*parts)[1].content_type, "text/plain");
  EXPECT_EQ((*parts)[1].body, "...contents of file1.txt...");
  EXPECT_EQ((*parts)[2].name, "empty");
  EXPECT_EQ((*parts)[2].body, "");
}

TEST(MultipartFormTest, BareLineFeedsAndNoParts) {
  auto parts = ParseMultipartForm("--b\nContent-Disposition: form-data; name=a\n\nx\n--b--", "b");
  ASSERT_TRUE(parts.ok()) << parts.status();
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].name, "a");
  EXPECT_EQ((*parts)[0].body, "x");
  auto none = ParseMultipartForm("--b--\r\n", "b");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(MultipartFormTest, Refusals) {
  for (const std::string& body : {
           std::string(""),
           std::string("no delimiter at all"),
           std::string("--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx"),  // no close
           std::string("--b\r\nContent-Disposition: form-data; name=a\r\nno blank line"),
           std::string("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--"),  // no name
           std::string("--bjunk\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--b--"),
           absl::StrCat("--b\r\nX: ", std::string(9000, 'a'), "\r\n\r\nx\r\n--b--"),
       }) {
    SCOPED_TRACE(body.substr(0, 60));
    EXPECT_EQ(ParseMultipartForm(body, "b").status().code(), absl::StatusCode::kInvalidArgument);
  }
  std::string many;
  for (size_t i = 0; i <= kMaxMultipartParts; ++i) {
    absl::StrAppend(&many, "--b\r\nContent-Disposition: form-data; name=p\r\n\r\nv\r\n");
  }
  many += "--b--";
  EXPECT_EQ(ParseMultipartForm(many, "b").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace switchboard::providers
