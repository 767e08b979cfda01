#include "daemon/outbox_dispatcher.h"

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "notices/case.h"
#include "notices/notice.h"
#include "notices/outbox_record.h"
#include "tests/daemon/pipeline_harness.h"
#include "tests/fakes/fake_clock.h"

namespace takedown {
namespace {

using ::takedown::testing::ReadOutbox;
using ::takedown::testing::TempDir;
using ::testing::HasSubstr;

// A channel that records what it delivers and fails the first `fail_first`
// calls with `failure`. Thread-safe.
class FakeChannel final : public NoticeChannel {
 public:
  FakeChannel(std::string name, int fail_first, absl::Status failure = absl::UnavailableError("receiver is down"))
      : name_(std::move(name)), failures_left_(fail_first), failure_(std::move(failure)) {}

  std::string_view name() const override { return name_; }

  absl::Status Deliver(const Notice& notice) override {
    std::lock_guard lock(mu_);
    ++calls_;
    if (failures_left_ > 0) {
      --failures_left_;
      return failure_;
    }
    ++delivered_[notice.id];
    return absl::OkStatus();
  }

  int calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  std::map<std::string, int> delivered() const {
    std::lock_guard lock(mu_);
    return delivered_;
  }

 private:
  const std::string name_;
  mutable std::mutex mu_;
  int failures_left_;
  absl::Status failure_;
  int calls_ = 0;
  std::map<std::string, int> delivered_;
};

class OutboxDispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir_.Sub("store"), StoreOptions{});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    metrics_ = std::make_unique<DaemonMetrics>(registry_);
  }

  // Queues a detection notice for a new case about `key`; returns its id.
  std::string Queue(const std::string& key, std::string_view channel = kDefaultNoticeChannel) {
    CaseObject object;
    object.source_id = "src";
    object.key = key;
    Case c = NewCase(object, clock_.Now());
    Notice notice = MakeDetectionNotice(c, clock_.Now(), channel);
    Store::Batch batch;
    batch.Put(Cf::kOutbox, notice.id, OutboxRecordToJson(NewOutboxRecord(notice, clock_.Now())).dump());
    EXPECT_TRUE(store_->Write(std::move(batch)).ok());
    return notice.id;
  }

  std::unique_ptr<OutboxDispatcher> MakeDispatcher(OutboxOptions options = {}) {
    return std::make_unique<OutboxDispatcher>(*store_, clock_, *metrics_, options);
  }

  // Adds a FakeChannel to the dispatcher and returns it (owned by the dispatcher).
  FakeChannel* AddChannel(OutboxDispatcher& dispatcher, std::unique_ptr<FakeChannel> channel) {
    FakeChannel* raw = channel.get();
    dispatcher.AddChannel(std::move(channel));
    return raw;
  }

  int DispatchOrDie(OutboxDispatcher& dispatcher) {
    absl::StatusOr<int> n = dispatcher.DispatchDue();
    EXPECT_TRUE(n.ok()) << n.status();
    return n.value_or(-1);
  }

  OutboxRecord Record(const std::string& id) {
    std::map<std::string, OutboxRecord> all = ReadOutbox(*store_);
    auto it = all.find(id);
    EXPECT_NE(it, all.end()) << "no outbox record " << id;
    return it == all.end() ? OutboxRecord{} : it->second;
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
  MetricsRegistry registry_;
  std::unique_ptr<DaemonMetrics> metrics_;
};

TEST_F(OutboxDispatcherTest, PendingNoticesAreDeliveredOnceAndMarkedDelivered) {
  std::vector<std::string> ids = {Queue("a"), Queue("b"), Queue("c")};
  std::unique_ptr<OutboxDispatcher> dispatcher = MakeDispatcher();
  FakeChannel* channel = AddChannel(*dispatcher, std::make_unique<FakeChannel>("file_drop", 0));

  clock_.Advance(absl::Seconds(5));
  EXPECT_EQ(DispatchOrDie(*dispatcher), 3);
  std::map<std::string, int> delivered = channel->delivered();
  ASSERT_EQ(delivered.size(), 3u);
  for (const std::string& id : ids) {
    EXPECT_EQ(delivered[id], 1) << id;
    OutboxRecord r = Record(id);
    EXPECT_EQ(r.state, OutboxRecord::State::kDelivered);
    EXPECT_EQ(r.attempts, 1);
    EXPECT_EQ(r.delivered_at, clock_.Now());
    EXPECT_TRUE(r.last_error.empty());
  }

  // Nothing is due any more, now or later.
  EXPECT_EQ(DispatchOrDie(*dispatcher), 0);
  clock_.Advance(absl::Hours(48));
  EXPECT_EQ(DispatchOrDie(*dispatcher), 0);
  EXPECT_EQ(channel->calls(), 3);
  EXPECT_THAT(registry_.RenderText(),
              HasSubstr("takedown_notices_total{channel=\"file_drop\",outcome=\"delivered\"} 3"));
}

TEST_F(OutboxDispatcherTest, FailedDeliveryIsRetriedWithBackoffAndNotBeforeItIsDue) {
  std::string id = Queue("a");
  OutboxOptions options;
  options.initial_backoff = absl::Seconds(1);
  options.max_backoff = absl::Minutes(10);
  std::unique_ptr<OutboxDispatcher> dispatcher = MakeDispatcher(options);
  FakeChannel* channel = AddChannel(*dispatcher, std::make_unique<FakeChannel>("file_drop", 2));

  EXPECT_EQ(DispatchOrDie(*dispatcher), 0);
  OutboxRecord r = Record(id);
  EXPECT_EQ(r.state, OutboxRecord::State::kPending);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(r.next_attempt_at, clock_.Now() + absl::Seconds(1));
  EXPECT_THAT(r.last_error, HasSubstr("receiver is down"));

  // Not retried before it is due.
  EXPECT_EQ(DispatchOrDie(*dispatcher), 0);
  clock_.Advance(absl::Milliseconds(999));
  EXPECT_EQ(DispatchOrDie(*dispatcher), 0);
  EXPECT_EQ(channel->calls(), 1);

  clock_.Advance(absl::Milliseconds(1));
  EXPECT_EQ(DispatchOrDie(*dispatcher), 0);
  EXPECT_EQ(channel->calls(), 2);
  r = Record(id);
  EXPECT_EQ(r.attempts, 2);
  EXPECT_EQ(r.next_attempt_at, clock_.Now() + absl::Seconds(2));

  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(DispatchOrDie(*dispatcher), 0);
  EXPECT_EQ(channel->calls(), 2);

  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(DispatchOrDie(*dispatcher), 1);
  r = Record(id);
  EXPECT_EQ(r.state, OutboxRecord::State::kDelivered);
  EXPECT_EQ(r.attempts, 3);
  EXPECT_TRUE(r.last_error.empty());
  EXPECT_EQ(channel->delivered()[id], 1);
  EXPECT_THAT(registry_.RenderText(),
              HasSubstr("takedown_notices_total{channel=\"file_drop\",outcome=\"retry\"} 2"));
}

TEST_F(OutboxDispatcherTest, BackoffDoublesUpToTheMaximum) {
  std::string id = Queue("a");
  OutboxOptions options;
  options.initial_backoff = absl::Seconds(1);
  options.max_backoff = absl::Seconds(5);
  options.max_attempts = 100;
  std::unique_ptr<OutboxDispatcher> dispatcher = MakeDispatcher(options);
  AddChannel(*dispatcher, std::make_unique<FakeChannel>("file_drop", 1000));
  const std::vector<absl::Duration> expected = {absl::Seconds(1), absl::Seconds(2), absl::Seconds(4),
                                                absl::Seconds(5), absl::Seconds(5)};
  for (size_t attempt = 0; attempt < expected.size(); ++attempt) {
    EXPECT_EQ(DispatchOrDie(*dispatcher), 0);
    OutboxRecord r = Record(id);
    EXPECT_EQ(r.attempts, static_cast<int>(attempt + 1));
    EXPECT_EQ(r.next_attempt_at - clock_.Now(), expected[attempt]) << "attempt " << attempt + 1;
    clock_.Set(r.next_attempt_at);
  }
}

TEST_F(OutboxDispatcherTest, TheReceiversRetryAfterIsHonouredUpToItsCap) {
  std::string id = Queue("a");
  OutboxOptions options;
  options.initial_backoff = absl::Seconds(1);
  options.max_backoff = absl::Seconds(5);
  options.max_retry_after = absl::Minutes(30);
  options.max_attempts = 100;
  std::unique_ptr<OutboxDispatcher> dispatcher = MakeDispatcher(options);
  // Asks for 2 minutes: longer than the backoff, so it wins.
  AddChannel(*dispatcher,
             std::make_unique<FakeChannel>(
                 "file_drop", 1, WithRetryAfter(absl::UnavailableError("HTTP 429"), absl::Minutes(2))));
  EXPECT_EQ(DispatchOrDie(*dispatcher), 0);
  EXPECT_EQ(Record(id).next_attempt_at - clock_.Now(), absl::Minutes(2));
  clock_.Advance(absl::Minutes(2) - absl::Seconds(1));
  EXPECT_EQ(DispatchOrDie(*dispatcher), 0);  // not before it asked
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(DispatchOrDie(*dispatcher), 1);

  // A day is cut to the cap; a wait shorter than the backoff does not shorten it.
  std::unique_ptr<OutboxDispatcher> capped = MakeDispatcher(options);
  const std::string day = Queue("b");
  AddChannel(*capped,
             std::make_unique<FakeChannel>(
                 "file_drop", 1, WithRetryAfter(absl::UnavailableError("HTTP 503"), absl::Hours(24))));
  EXPECT_EQ(DispatchOrDie(*capped), 0);
  EXPECT_EQ(Record(day).next_attempt_at - clock_.Now(), absl::Minutes(30));
  std::unique_ptr<OutboxDispatcher> brief = MakeDispatcher(options);
  const std::string soon = Queue("c");
  AddChannel(*brief,
             std::make_unique<FakeChannel>(
                 "file_drop", 1, WithRetryAfter(absl::UnavailableError("HTTP 503"), absl::ZeroDuration())));
  EXPECT_EQ(DispatchOrDie(*brief), 0);
  EXPECT_EQ(Record(soon).next_attempt_at - clock_.Now(), absl::Seconds(1));
}

TEST(RetryAfterPayload, RoundTripsAndIsAbsentOnOtherErrors) {
  EXPECT_EQ(RetryAfter(WithRetryAfter(absl::UnavailableError("x"), absl::Seconds(7))), absl::Seconds(7));
  EXPECT_EQ(RetryAfter(absl::UnavailableError("x")), std::nullopt);
  absl::Status garbled = absl::UnavailableError("x");
  garbled.SetPayload(kRetryAfterPayloadUrl, absl::Cord("soon"));
  EXPECT_EQ(RetryAfter(garbled), std::nullopt);
}

TEST_F(OutboxDispatcherTest, RecordIsDeadLetteredAfterMaxAttempts) {
  std::string id = Queue("a");
  OutboxOptions options;
  options.max_attempts = 3;
  std::unique_ptr<OutboxDispatcher> dispatcher = MakeDispatcher(options);
  FakeChannel* channel = AddChannel(*dispatcher, std::make_unique<FakeChannel>("file_drop", 1000));
  for (int attempt = 1; attempt <= 3; ++attempt) {
    EXPECT_EQ(DispatchOrDie(*dispatcher), 0);
    clock_.Advance(absl::Minutes(10));
  }
  OutboxRecord r = Record(id);
  EXPECT_EQ(r.state, OutboxRecord::State::kDeadLetter);
  EXPECT_EQ(r.attempts, 3);
  EXPECT_THAT(r.last_error, HasSubstr("receiver is down"));
  EXPECT_EQ(channel->calls(), 3);

  clock_.Advance(absl::Hours(24));
  EXPECT_EQ(DispatchOrDie(*dispatcher), 0);
  EXPECT_EQ(channel->calls(), 3);
  EXPECT_THAT(registry_.RenderText(),
              HasSubstr("takedown_notices_total{channel=\"file_drop\",outcome=\"dead_letter\"} 1"));
}

TEST_F(OutboxDispatcherTest, RecordForAnUnknownChannelIsRetriedThenDeadLettered) {
  std::string lost = Queue("a", "nowhere");
  std::string fine = Queue("b");
  OutboxOptions options;
  options.max_attempts = 2;
  std::unique_ptr<OutboxDispatcher> dispatcher = MakeDispatcher(options);
  FakeChannel* channel = AddChannel(*dispatcher, std::make_unique<FakeChannel>("file_drop", 0));

  EXPECT_EQ(DispatchOrDie(*dispatcher), 1);
  OutboxRecord r = Record(lost);
  EXPECT_EQ(r.state, OutboxRecord::State::kPending);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_THAT(r.last_error, HasSubstr("no channel 'nowhere'"));
  EXPECT_GT(r.next_attempt_at, clock_.Now());

  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(DispatchOrDie(*dispatcher), 0);
  r = Record(lost);
  EXPECT_EQ(r.state, OutboxRecord::State::kDeadLetter);
  EXPECT_EQ(r.attempts, 2);
  EXPECT_EQ(Record(fine).state, OutboxRecord::State::kDelivered);
  EXPECT_EQ(channel->calls(), 1);
}

// notices/channel.h: "every other code [than Unavailable, DeadlineExceeded,
// ResourceExhausted, Aborted] is permanent and dead-letters the record."
TEST_F(OutboxDispatcherTest, PermanentChannelErrorDeadLettersWithoutRetrying) {
  std::string id = Queue("a");
  std::unique_ptr<OutboxDispatcher> dispatcher = MakeDispatcher();
  FakeChannel* channel = AddChannel(
      *dispatcher, std::make_unique<FakeChannel>("file_drop", 1000, absl::InvalidArgumentError("payload rejected")));
  EXPECT_EQ(DispatchOrDie(*dispatcher), 0);
  OutboxRecord r = Record(id);
  EXPECT_EQ(r.state, OutboxRecord::State::kDeadLetter);
  EXPECT_EQ(r.attempts, 1);
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(DispatchOrDie(*dispatcher), 0);
  EXPECT_EQ(channel->calls(), 1);
}

// OutboxRecordFromJson refuses a last_error longer than
// kMaxOutboxLastErrorLength, so an over-long channel error must be truncated
// when stored, or the record becomes unreadable and is never sent.
TEST_F(OutboxDispatcherTest, OverlongChannelErrorIsTruncatedAndTheRecordStaysDeliverable) {
  std::string id = Queue("a");
  std::unique_ptr<OutboxDispatcher> dispatcher = MakeDispatcher();
  FakeChannel* channel = AddChannel(
      *dispatcher,
      std::make_unique<FakeChannel>("file_drop", 1, absl::UnavailableError(std::string(3 * kMaxOutboxLastErrorLength, 'e'))));
  EXPECT_EQ(DispatchOrDie(*dispatcher), 0);
  OutboxRecord r = Record(id);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_LE(r.last_error.size(), kMaxOutboxLastErrorLength);
  EXPECT_FALSE(r.last_error.empty());

  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(DispatchOrDie(*dispatcher), 1);
  EXPECT_EQ(channel->delivered()[id], 1);
}

TEST_F(OutboxDispatcherTest, BackgroundThreadDeliversWhenNotified) {
  std::unique_ptr<OutboxDispatcher> dispatcher = MakeDispatcher();
  FakeChannel* channel = AddChannel(*dispatcher, std::make_unique<FakeChannel>("file_drop", 0));
  dispatcher->Start();
  std::string id = Queue("a");
  dispatcher->Notify();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (channel->delivered()[id] == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  dispatcher->Stop();
  EXPECT_EQ(channel->delivered()[id], 1);
  EXPECT_EQ(Record(id).state, OutboxRecord::State::kDelivered);
}

}  // namespace
}  // namespace takedown
