#include <atomic>
#include <string>
#include <thread>

#include "common/bounded_queue.h"
#include "common/digest_set.h"
#include "common/hex.h"
#include "common/json_depth.h"
#include "common/status_macros.h"
#include "common/thread_pool.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_clock.h"

namespace takedown {
namespace {

TEST(Hex, RoundTripsBytes) {
  std::string bytes("\x00\x01\xab\xff", 4);
  EXPECT_EQ(HexEncode(bytes), "0001abff");
  EXPECT_EQ(HexDecode("0001ABff"), bytes);
}

TEST(Hex, RejectsOddLengthAndNonHex) {
  EXPECT_FALSE(HexDecode("abc").has_value());
  EXPECT_FALSE(HexDecode("zz").has_value());
}

TEST(BoundedQueue, CloseDrainsRemainingItemsThenEnds) {
  BoundedQueue<int> q(4);
  ASSERT_TRUE(q.Push(1));
  ASSERT_TRUE(q.Push(2));
  q.Close();
  EXPECT_FALSE(q.Push(3));
  EXPECT_EQ(q.Pop(), 1);
  EXPECT_EQ(q.Pop(), 2);
  EXPECT_EQ(q.Pop(), std::nullopt);
}

TEST(BoundedQueue, FullQueueBlocksProducerUntilConsumed) {
  BoundedQueue<int> q(1);
  ASSERT_TRUE(q.Push(1));
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    q.Push(2);
    pushed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(pushed.load());
  EXPECT_EQ(q.Pop(), 1);
  producer.join();
  EXPECT_TRUE(pushed.load());
  EXPECT_EQ(q.Pop(), 2);
}

TEST(ThreadPool, RunsEveryTaskBeforeShutdownReturns) {
  std::atomic<int> count{0};
  {
    ThreadPool pool(3, 2);
    for (int i = 0; i < 100; ++i) pool.Submit([&] { count++; });
  }
  EXPECT_EQ(count.load(), 100);
}

absl::StatusOr<int> Half(int x) {
  if (x % 2) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::Status UseMacros(int x, int* out) {
  ASSIGN_OR_RETURN(int h, Half(x));
  RETURN_IF_ERROR(h > 10 ? absl::OutOfRangeError("big") : absl::OkStatus());
  *out = h;
  return absl::OkStatus();
}

TEST(StatusMacros, PropagateErrorsAndValues) {
  int out = 0;
  EXPECT_TRUE(UseMacros(8, &out).ok());
  EXPECT_EQ(out, 4);
  EXPECT_EQ(UseMacros(3, &out).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(UseMacros(40, &out).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(Annotate(absl::NotFoundError("x"), "file a.csv").message(), "file a.csv: x");
}

TEST(DigestSet, NamesAndLengths) {
  HashType t;
  ASSERT_TRUE(ParseHashType("SHA-256", &t));
  EXPECT_EQ(t, HashType::kSha256);
  EXPECT_EQ(HashTypeLength(t), 32u);
  EXPECT_FALSE(ParseHashType("crc32", &t));
  EXPECT_TRUE(IsCryptographicHashType(HashType::kSha1));
  ContentCategory c;
  ASSERT_TRUE(ParseContentCategory("Terrorist", &c));
  EXPECT_EQ(ContentCategoryName(c), "terrorist");
}

TEST(DigestSet, PdqIsAHashTypeButNotADigest) {
  HashType t = HashType::kMd5;
  ASSERT_TRUE(ParseHashType("PDQ", &t));
  EXPECT_EQ(t, HashType::kPdq);
  EXPECT_EQ(HashTypeName(HashType::kPdq), "pdq");
  EXPECT_EQ(HashTypeLength(HashType::kPdq), 32u);
  EXPECT_FALSE(IsCryptographicHashType(HashType::kPdq));
  DigestSet digests;
  digests.sha256.fill(0xAB);
  EXPECT_TRUE(digests.Get(HashType::kPdq).empty());
  EXPECT_EQ(digests.Get(HashType::kSha256), std::string(32, '\xAB'));
}

TEST(FakeClock, MovesOnlyWhenAdvanced) {
  FakeClock clock;
  absl::Time t0 = clock.Now();
  clock.Advance(absl::Hours(24));
  EXPECT_EQ(clock.Now() - t0, absl::Hours(24));
}

TEST(JsonNestingOverflow, FindsTheFirstBracketBeyondTheLimitAndSkipsStrings) {
  EXPECT_EQ(JsonNestingOverflow(R"({"a": [1, {"b": 2}]})", 3), std::nullopt);
  EXPECT_EQ(JsonNestingOverflow(R"({"a": [1, {"b": 2}]})", 2), std::optional<size_t>(10));
  // Brackets inside strings, also after escaped quotes, do not count.
  EXPECT_EQ(JsonNestingOverflow(R"(["[[[[", "\"[[[[", "x"])", 1), std::nullopt);
  // Closing brackets bring the depth back down; stray closers do not go below zero.
  EXPECT_EQ(JsonNestingOverflow("]]][[]][[]]", 2), std::nullopt);
  EXPECT_EQ(JsonNestingOverflow(std::string(100000, '['), 32), std::optional<size_t>(32));
  EXPECT_EQ(JsonNestingOverflow("", 0), std::nullopt);
}

}  // namespace
}  // namespace takedown
