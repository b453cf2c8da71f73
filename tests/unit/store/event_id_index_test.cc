#include "router/store/event_id_index.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace switchboard::store::embedded_internal {
namespace {

// Filters are stored with their runs, so the hash must be XXH3-64 itself, the same in every
// process. Test vectors: the reference implementation (https://github.com/Cyan4973/xxHash),
// XXH3_64bits with seed 0.
TEST(BlockedBloomFilterTest, HashesWithXxh3) {
  EXPECT_EQ(BlockedBloomFilter::Hash(""), 0x2d06800538d394c2u);
  EXPECT_EQ(BlockedBloomFilter::Hash("abc"), 0x78af5f94892f3950u);
}

TEST(BlockedBloomFilterTest, HoldsEveryIdAddedAndFewOthers) {
  constexpr int kIds = 20000;
  BlockedBloomFilter filter(kIds, 10);
  for (int i = 0; i < kIds; ++i) filter.Add(BlockedBloomFilter::Hash(absl::StrCat("in-", i)));
  for (int i = 0; i < kIds; ++i) {
    ASSERT_TRUE(filter.MayContain(BlockedBloomFilter::Hash(absl::StrCat("in-", i)))) << i;
  }
  int false_positives = 0;
  for (int i = 0; i < kIds; ++i) {
    false_positives += filter.MayContain(BlockedBloomFilter::Hash(absl::StrCat("out-", i)));
  }
  // A blocked filter at 10 bits per id with 6 probes: about 1 %; 3 % would mean a broken layout.
  EXPECT_LT(false_positives, kIds * 3 / 100);
  EXPECT_GT(false_positives, 0);  // 20,000 absent ids all answered "no" would be a broken probe
}

TEST(BlockedBloomFilterTest, AnEmptyFilterHoldsNothing) {
  BlockedBloomFilter filter(0, 10);
  EXPECT_FALSE(filter.MayContain(BlockedBloomFilter::Hash("x")));
  EXPECT_EQ(filter.Bytes().size(), 64u);  // one block
}

TEST(BlockedBloomFilterTest, ReadsBackWhatItStored) {
  BlockedBloomFilter filter(100, 10);
  for (int i = 0; i < 100; ++i) filter.Add(BlockedBloomFilter::Hash(absl::StrCat("id-", i)));
  absl::StatusOr<BlockedBloomFilter> copy = BlockedBloomFilter::FromBytes(filter.Bytes());
  ASSERT_TRUE(copy.ok()) << copy.status();
  EXPECT_EQ(copy->Bytes(), filter.Bytes());
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(copy->MayContain(BlockedBloomFilter::Hash(absl::StrCat("id-", i))));
  }
}

TEST(BlockedBloomFilterTest, RefusesBytesThatAreNotWholeBlocks) {
  EXPECT_EQ(BlockedBloomFilter::FromBytes("").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(BlockedBloomFilter::FromBytes(std::string(65, 'x')).status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace switchboard::store::embedded_internal
